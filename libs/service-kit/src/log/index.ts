export * from './logger.js';
export * from './brief-error.js';
