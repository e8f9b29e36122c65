export * from './job-options.js';
export * from './producer.js';
export * from './consumer.js';
export * from './queue-stats.js';
