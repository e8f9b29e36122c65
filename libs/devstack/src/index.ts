export * from './errors.js';
export * from './packages.js';
export * from './ports.js';
export * from './server-process.js';
export * from './redis-server.js';
export * from './postgres-server.js';
export * from './stack.js';
export * from './mosquitto-server.js';
