export * from './problem.js';
export * from './ops.routes.js';
