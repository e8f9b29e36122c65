export * from './spool-layout.js';
export * from './spool-record.js';
export * from './segment-scan.js';
export * from './segment-log.js';
export * from './spool-inspect.js';
