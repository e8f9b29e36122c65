export * from './problem.js';
export * from './ops.routes.js';
export * from './api-key-hash.js';
export * from './webhook-signature.js';
export * from './api-key-auth.js';
export * from './access-log.js';
export * from './keep-alive.js';
