export * from './shutdown.js';
export * from './startup.js';
