export * from './job-options.js';
export * from './producer.js';
export * from './consumer.js';
