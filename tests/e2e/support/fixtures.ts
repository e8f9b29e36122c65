import { readFileSync } from 'node:fs';

/** One of the producers' payload shapes, from fixtures/shapes/. */
export const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/shapes/${name}.json`, import.meta.url), 'utf8'));
