import { TaskTypes } from '@telemetryhub/schemas';
import type { TaskHandler } from '../domain/task.js';

export type { ParsedTask, TaskHandler } from '../domain/task.js';
export { createTelemetryHandler } from './telemetry.handler.js';

/** Task type → handler. A type with no handler goes to the DLQ with reason `unknown_type`. */
export class HandlerRegistry {
  private readonly byType = new Map<string, TaskHandler>();

  register(types: readonly string[], handler: TaskHandler): this {
    for (const t of types) this.byType.set(t, handler);
    return this;
  }

  get(type: string): TaskHandler | undefined {
    return this.byType.get(type);
  }

  get types(): string[] {
    return [...this.byType.keys()];
  }
}

/** The telemetry task types: each stores its readings, then runs its steps (telemetry.handler.ts STEPS_BY_TYPE). */
export const TELEMETRY_TASK_TYPES = [
  TaskTypes.ANALYZE,
  TaskTypes.STORE,
  TaskTypes.ALERT,
  TaskTypes.ANOMALY_DETECT,
  TaskTypes.AGGREGATE,
] as const;
