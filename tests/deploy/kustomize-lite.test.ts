import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { build, type K8sObject } from './support/kustomize-lite.js';
import { OVERLAYS, overlayDir } from './support/manifests.js';

/** Kustomize wraps long base64 values of a Secret over lines; base64 decoders ignore the line breaks. */
const unwrapSecret = (o: K8sObject): K8sObject =>
  o.kind === 'Secret'
    ? {
        ...o,
        data: Object.fromEntries(
          Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s/g, '')]),
        ),
      }
    : o;
const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byKey = (objects: K8sObject[]) => Object.fromEntries(objects.map((o) => [key(o), unwrapSecret(o)]));
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const noKubectl =
  kubectl.status === 0 ? false : 'kubectl is not installed here: our renderer is not compared with the real kustomize';

for (const overlay of OVERLAYS) {
  test(`kustomize-lite renders overlays/${overlay} exactly as kubectl kustomize does`, { skip: noKubectl }, () => {
    const real = spawnSync('kubectl', ['kustomize', overlayDir(overlay)], { encoding: 'utf8' });
    assert.equal(real.status, 0, real.stderr);
    const expected = parseAllDocuments(real.stdout).map((d) => d.toJS() as K8sObject);
    const ours = build(overlayDir(overlay));
    assert.ok(ours.length > 10);
    assert.deepEqual(byKey(ours), byKey(expected));
  });
}
