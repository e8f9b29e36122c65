import { createHash } from 'node:crypto';

/** How an ingest API key is stored in configuration: the hex SHA-256 of the key, never the key itself. */
export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');
