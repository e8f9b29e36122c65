import type { Migration } from './migration.js';
import { migration0001 } from './0001-readings.js';
import { migration0002 } from './0002-rollups-alerts.js';
import { migration0003 } from './0003-alert-notifications.js';
import { migration0004 } from './0004-outlier-state.js';
import { migration0005 } from './0005-partitions-late.js';
import { migration0006 } from './0006-rollup-variance.js';
import { migration0007 } from './0007-task-statistics.js';
import { migration0008 } from './0008-devices.js';
import { migration0009 } from './0009-fold-pending.js';
import { migration0010 } from './0010-expired-readings.js';

export type { Migration };

/** Every migration, in version order. Append only: never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
  migration0006,
  migration0007,
  migration0008,
  migration0009,
  migration0010,
];
