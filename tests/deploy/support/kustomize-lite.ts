/**
 * A `kustomize build` for the subset of Kustomize that k8s/ uses, so that the manifests can be checked offline on
 * machines without kustomize or kubectl. It refuses any field it does not implement (so a new feature in a
 * kustomization fails loudly here, rather than being ignored), and tests/deploy/kustomize-lite.test.ts compares
 * its output with the real `kubectl kustomize` wherever kubectl is installed.
 *
 * Implemented: resources (files and directories), components, namespace, labels (pairs; on pod templates too with
 * includeTemplates), images,
 * patches (JSON 6902 with a kind/name target; `$patch: delete` strategic-merge patches), configMapGenerator and
 * secretGenerator (files and literals, with disableNameSuffixHash).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import jsonPatch, { type Operation } from 'fast-json-patch';
import { parse, parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export class KustomizeError extends Error {}

const KNOWN_FIELDS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'labels',
  'resources',
  'components',
  'images',
  'patches',
  'configMapGenerator',
  'secretGenerator',
]);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

interface Kustomization {
  kind?: string;
  namespace?: string;
  labels?: Array<{ pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }>;
  resources?: string[];
  components?: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ path?: string; patch?: string; target?: { kind?: string; name?: string } }>;
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
}
interface Generator {
  name: string;
  files?: string[];
  literals?: string[];
  options?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
}

function readKustomization(dir: string): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Kustomization & Record<string, unknown>;
  for (const key of Object.keys(k)) {
    if (!KNOWN_FIELDS.has(key)) throw new KustomizeError(`${file}: "${key}" is not supported by kustomize-lite`);
  }
  return k;
}

function readObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new KustomizeError(`${file}: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** Renders the kustomization in `dir` like `kustomize build dir` (objects in file order, not kustomize's sort). */
export function build(dir: string): K8sObject[] {
  return buildDir(resolve(dir), false);
}

function buildDir(dir: string, asComponent: boolean, base: K8sObject[] = []): K8sObject[] {
  const k = readKustomization(dir);
  const isComponent = k.kind === 'Component';
  if (isComponent !== asComponent) {
    throw new KustomizeError(`${dir}: ${asComponent ? 'listed as a component but is not one' : 'is a Component'}`);
  }
  let objects = [...base];
  for (const r of k.resources ?? []) {
    const path = join(dir, r);
    objects.push(...(statSync(path).isDirectory() ? buildDir(path, false) : readObjects(path)));
  }
  for (const g of k.configMapGenerator ?? []) objects.push(generate(dir, g, 'ConfigMap'));
  for (const g of k.secretGenerator ?? []) objects.push(generate(dir, g, 'Secret'));
  for (const c of k.components ?? []) objects = buildDir(join(dir, c), true, objects);
  for (const p of k.patches ?? []) objects = applyPatch(dir, objects, p);
  for (const img of k.images ?? []) for (const o of objects) setImage(o, img);
  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const l of k.labels ?? []) {
    if (l.includeSelectors) throw new KustomizeError(`${dir}: labels on selectors not supported`);
    for (const o of objects) {
      o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
      if (!l.includeTemplates) continue;
      // Kustomize's templates: the pod template, and a StatefulSet's volume claim templates.
      const claims =
        o.kind === 'StatefulSet' ? ((o.spec as { volumeClaimTemplates?: Labelled[] }).volumeClaimTemplates ?? []) : [];
      for (const t of [podTemplateOf(o), ...claims]) {
        if (t) t.metadata = { ...t.metadata, labels: { ...t.metadata?.labels, ...l.pairs } };
      }
    }
  }
  return objects;
}

type Labelled = { metadata?: { labels?: Record<string, string> } };

/** The pod template of a workload (what `includeTemplates` labels), or undefined for any other object. */
function podTemplateOf(o: K8sObject): Labelled | undefined {
  const spec = o.spec as
    | { template?: { metadata?: { labels?: Record<string, string> } }; jobTemplate?: { spec?: { template?: object } } }
    | undefined;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(o.kind)) return spec?.template;
  if (o.kind === 'CronJob')
    return spec?.jobTemplate?.spec?.template as { metadata?: { labels?: Record<string, string> } };
  return undefined;
}

function generate(dir: string, g: Generator, kind: 'ConfigMap' | 'Secret'): K8sObject {
  if (!g.options?.disableNameSuffixHash) {
    throw new KustomizeError(`${dir}: generator ${g.name} needs options.disableNameSuffixHash (hashes not supported)`);
  }
  const data: Record<string, string> = {};
  for (const f of g.files ?? []) data[basename(f)] = readFileSync(join(dir, f), 'utf8');
  for (const lit of g.literals ?? []) {
    const eq = lit.indexOf('=');
    data[lit.slice(0, eq)] = lit.slice(eq + 1);
  }
  const metadata = { name: g.name, ...(g.options.labels ? { labels: { ...g.options.labels } } : {}) };
  if (kind === 'ConfigMap') return { apiVersion: 'v1', kind, metadata, data };
  const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return { apiVersion: 'v1', kind, metadata, type: 'Opaque', data: encoded };
}

function applyPatch(dir: string, objects: K8sObject[], p: NonNullable<Kustomization['patches']>[number]): K8sObject[] {
  const text = p.patch ?? readFileSync(join(dir, p.path ?? ''), 'utf8');
  const body = parse(text) as unknown;
  if (Array.isArray(body)) {
    const { kind, name } = p.target ?? {};
    if (!kind || !name) throw new KustomizeError(`${dir}: a JSON 6902 patch needs target.kind and target.name`);
    const matches = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    if (matches.length !== 1)
      throw new KustomizeError(`${dir}: patch target ${kind}/${name} matched ${matches.length}`);
    const patched = jsonPatch.applyPatch(structuredClone(matches[0]!), body as Operation[], true, false).newDocument;
    return objects.map((o) => (o === matches[0] ? patched : o));
  }
  const smp = body as K8sObject & { $patch?: string };
  if (smp.$patch === 'delete') {
    const left = objects.filter((o) => !(o.kind === smp.kind && o.metadata.name === smp.metadata.name));
    if (left.length !== objects.length - 1) {
      throw new KustomizeError(`${dir}: delete patch for ${smp.kind}/${smp.metadata.name} matched nothing`);
    }
    return left;
  }
  throw new KustomizeError(`${dir}: only JSON 6902 patches and "$patch: delete" are supported`);
}

function setImage(o: K8sObject, img: { name: string; newName?: string; newTag?: string }): void {
  const spec = (o.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    const [name, tag] = splitImage(c.image);
    if (name !== img.name) continue;
    c.image = `${img.newName ?? name}${(img.newTag ?? tag) ? `:${img.newTag ?? tag}` : ''}`;
  }
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  [k: string]: unknown;
}
export interface Container {
  name: string;
  image: string;
  [k: string]: unknown;
}

/** `name[:tag]` of an image reference (a registry port's colon is not a tag). */
export function splitImage(image: string): [string, string | undefined] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, undefined];
}
