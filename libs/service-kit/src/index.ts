export * from './errors/index.js';
export * from './config/index.js';
export * from './log/index.js';
export * from './metrics/index.js';
export * from './health/index.js';
export * from './http/index.js';
export * from './lifecycle/index.js';
export * from './random/index.js';
