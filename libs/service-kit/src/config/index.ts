export * from './load-config.js';
export * from './config-file.js';
