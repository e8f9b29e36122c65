export * from './producer.js';
export * from './consumer.js';
