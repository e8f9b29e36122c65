export * from './producer.js';
export * from './consumer.js';
export * from './maintenance.js';
export * from './queue-stats.js';
export * from './dead-letter-queue.js';
