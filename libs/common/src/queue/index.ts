export * from './keys.js';
export * from './errors.js';
export * from './redis-connection.js';
export * from './redis-target.js';
export * from './redis-list/index.js';
export * from './queue-metrics.js';
export * from './driver.js';
export * from './bullmq/index.js';
