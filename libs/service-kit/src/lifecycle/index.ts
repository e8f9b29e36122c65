export * from './shutdown.js';
export * from './startup.js';
export * from './sleep.js';
export * from './periodic-task.js';
export * from './backoff.js';
