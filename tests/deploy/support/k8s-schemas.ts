/**
 * Validation of rendered objects against the Kubernetes OpenAPI schemas, offline: kubernetes-models ships the
 * schemas of the Kubernetes API (and @kubernetes-models/keda, /prometheus-operator and /cert-manager those of the CRDs we use) as
 * compiled validators. Those validators accept unknown fields, which a real API server with strict field
 * validation (kubectl's default) refuses; so `typeCheckStrict` also type-checks every object as an object literal
 * against the same packages' TypeScript interfaces, where an unknown or misspelt field is an error.
 */
import ts from 'typescript';
import { join } from 'node:path';
import type { K8sObject } from './kustomize-lite.js';
import { ROOT } from './manifests.js';

/** Named so that the report says which API the manifests were checked against. */
export const SCHEMA_SOURCE = 'kubernetes-models@5.1.0 (Kubernetes API incl. resource.k8s.io/v1, i.e. 1.34)';

function modulePath(apiVersion: string): string {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
  if (group === 'keda.sh') return `@kubernetes-models/keda/${apiVersion}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  if (group === 'cert-manager.io') return `@kubernetes-models/cert-manager/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Schema errors of one object ('' when valid); an apiVersion/kind no package knows is an error too. */
export async function schemaErrors(o: K8sObject): Promise<string> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modulePath(o.apiVersion))) as Record<string, unknown>;
  } catch {
    return `no schema for apiVersion ${o.apiVersion}`;
  }
  const Model = mod[o.kind] as ModelClass | undefined;
  if (!Model) return `no schema for ${o.apiVersion} ${o.kind}`;
  try {
    new Model(o).validate();
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

/** Type-checks all objects against the models' interfaces; returns one line per error naming the object. */
export function typeCheckStrict(objects: K8sObject[]): string[] {
  const file = join(ROOT, 'tests/deploy/__rendered_manifests__.ts');
  const lines = objects.map(
    (o, i) =>
      `import type { I${o.kind} as T${i} } from '${modulePath(o.apiVersion)}';\n` +
      `export const r${i}: T${i} = ${JSON.stringify(o)};`,
  );
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (f) => (f === file ? source : readFile(f));
  host.fileExists = (f) => f === file || fileExists(f);
  host.getSourceFile = (f, lang, ...rest) =>
    f === file ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const o = objects[Math.floor(line / 2)];
    return `${o ? `${o.kind}/${o.metadata.name}` : 'manifests'}: ${text}`;
  });
}
