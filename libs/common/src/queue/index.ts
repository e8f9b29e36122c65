export * from './keys.js';
export * from './redis-connection.js';
export * from './redis-list/index.js';
