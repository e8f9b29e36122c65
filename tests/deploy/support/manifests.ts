import { join, resolve } from 'node:path';
import { build, type Container, type K8sObject, type PodSpec } from './kustomize-lite.js';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const OVERLAYS = ['dev', 'prod'] as const;
export type Overlay = (typeof OVERLAYS)[number];
export const overlayDir = (o: Overlay) => join(ROOT, 'k8s/overlays', o);

const cache = new Map<Overlay, K8sObject[]>();
/** The rendered objects of an overlay (rendered once per test process; callers must not mutate them). */
export function rendered(overlay: Overlay): K8sObject[] {
  let objects = cache.get(overlay);
  if (!objects) cache.set(overlay, (objects = build(overlayDir(overlay))));
  return objects;
}

export interface Workload {
  object: K8sObject;
  pod: PodSpec;
  podLabels: Record<string, string>;
}
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export function workloads(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => WORKLOAD_KINDS.has(o.kind))
    .map((object) => {
      const template = (object.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } })
        .template;
      return { object, pod: template.spec, podLabels: template.metadata?.labels ?? {} };
    });
}

export type { Container, K8sObject, PodSpec };
