export * from './shard-routing.js';
export * from './sharded-producer.js';
export * from './sharded-consumer.js';
export * from './sharded-queue-stats.js';
export * from './sharded-dead-letter-queue.js';
