import { HubConfigSchema } from '../../../apps/hub/src/config.js';
import { ProcessorConfigSchema } from '../../../apps/task-processor/src/config.js';

/** What the deployment files must agree with, per app: the variables it reads and the port its HTTP server uses. */
export const APPS = {
  hub: { keys: Object.keys(HubConfigSchema.shape), portVar: 'HUB_PORT', defaultPort: 8080 },
  'task-processor': {
    keys: Object.keys(ProcessorConfigSchema.shape),
    portVar: 'PROCESSOR_PORT',
    defaultPort: 8081,
  },
} as const;
export type AppName = keyof typeof APPS;
export const APP_NAMES = Object.keys(APPS) as AppName[];
/** Variables Node itself reads, which an app container may set besides its app's own (a private CA for Redis' TLS). */
export const NODE_VARIABLES: readonly string[] = ['NODE_EXTRA_CA_CERTS'];
