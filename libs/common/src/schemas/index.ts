export * from './primitives.js';
export * from './event-id.js';
export * from './reading.schema.js';
export * from './event-v2.schema.js';
export * from './ingest-event.schema.js';
export * from './gateway-sample.schema.js';
export * from './upcast.js';
export * from './task-envelope.schema.js';
