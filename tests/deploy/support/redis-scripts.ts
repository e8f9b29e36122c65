import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { K8sObject } from './kustomize-lite.js';

/** The start and probe scripts of the redis-scripts ConfigMap, by file name. */
export function redisScripts(objects: K8sObject[]): Record<string, string> {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'redis-scripts');
  assert.ok(cm, 'the redis-scripts ConfigMap');
  return (cm as unknown as { data: Record<string, string> }).data;
}

/**
 * Writes the scripts into `dir` as a pod would mount them, with the pod's absolute paths (`/scripts/`, and any in
 * `rewrites`, e.g. `/acl/` or a port) replaced so that they run on this machine, unprivileged, on private ports.
 */
export function installRedisScripts(
  scripts: Record<string, string>,
  dir: string,
  rewrites: ReadonlyArray<readonly [string, string]> = [],
): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(scripts)) {
    let out = text.replaceAll('/scripts/', `${dir}/`);
    for (const [from, to] of rewrites) out = out.replaceAll(from, to);
    writeFileSync(join(dir, name), out);
  }
}
