import type { K8sObject } from './kustomize-lite.js';

/**
 * A small evaluator of Kubernetes NetworkPolicy (networking.k8s.io/v1), for checking flows offline: a pod is
 * isolated in a direction once any policy of that type selects it, and then a connection is allowed only if some
 * rule of some selecting policy admits the peer and the port. Peers are pods (namespace + labels) or addresses
 * outside the cluster; `ipBlock` is taken to match outside addresses only (the API's advice: pod IPs are
 * ephemeral). Enough for the policies we ship: label selectors with matchLabels / matchExpressions (In, NotIn,
 * Exists, DoesNotExist), namespace selectors, numeric ports and protocols.
 */
export type Peer =
  { namespace: string; namespaceLabels?: Record<string, string>; labels: Record<string, string> } | 'outside';

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}
interface PolicyPeer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string };
}
interface Rule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: Array<{ port?: number; protocol?: string }>;
}
interface PolicySpec {
  podSelector: Selector;
  policyTypes?: Array<'Ingress' | 'Egress'>;
  ingress?: Rule[];
  egress?: Rule[];
}

export function matches(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
    if (e.operator === 'In' && !(has && e.values!.includes(labels[e.key]!))) return false;
    if (e.operator === 'NotIn' && has && e.values!.includes(labels[e.key]!)) return false;
  }
  return true;
}

function peerMatches(rulePeers: PolicyPeer[] | undefined, peer: Peer, policyNamespace: string): boolean {
  if (!rulePeers || rulePeers.length === 0) return true; // no from/to: every peer
  return rulePeers.some((p) => {
    if (p.ipBlock) return peer === 'outside';
    if (peer === 'outside') return false;
    const nsLabels = { 'kubernetes.io/metadata.name': peer.namespace, ...peer.namespaceLabels };
    const inNamespace = p.namespaceSelector
      ? matches(p.namespaceSelector, nsLabels)
      : peer.namespace === policyNamespace;
    return inNamespace && matches(p.podSelector, peer.labels);
  });
}

function portMatches(ports: Rule['ports'], port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.port === undefined || p.port === port) && (p.protocol ?? 'TCP') === protocol);
}

const typesOf = (spec: PolicySpec): Array<'Ingress' | 'Egress'> =>
  spec.policyTypes ?? (spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);

/** Whether `from` may open a connection to `to` on `port` under `policies` (both directions checked). */
export function allowed(
  policies: readonly K8sObject[],
  from: Peer,
  to: Peer,
  port: number,
  protocol: 'TCP' | 'UDP' = 'TCP',
): boolean {
  const side = (pod: Peer, direction: 'Ingress' | 'Egress', other: Peer): boolean => {
    if (pod === 'outside') return true; // not ours to police
    const selecting = policies.filter((p) => {
      const spec = p.spec as unknown as PolicySpec;
      return (
        (p.metadata.namespace ?? '') === pod.namespace &&
        typesOf(spec).includes(direction) &&
        matches(spec.podSelector, pod.labels)
      );
    });
    if (selecting.length === 0) return true; // not isolated
    return selecting.some((p) => {
      const spec = p.spec as unknown as PolicySpec;
      const rules = (direction === 'Ingress' ? spec.ingress : spec.egress) ?? [];
      return rules.some(
        (r) =>
          peerMatches(direction === 'Ingress' ? r.from : r.to, other, p.metadata.namespace ?? '') &&
          portMatches(r.ports, port, protocol),
      );
    });
  };
  return side(from, 'Egress', to) && side(to, 'Ingress', from);
}
