import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse } from 'yaml';
import { ROOT } from './manifests.js';

/**
 * Metric names a PromQL expression selects, from the official Prometheus grammar (lezer-promql). Throws on a
 * syntax error. Grafana's `$__rate_interval` is replaced by a duration first.
 */
export function metricNames(expr: string): string[] {
  const q = expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m');
  const names = new Set<string>();
  const errors: string[] = [];
  parser.parse(q).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: …${q.slice(node.from, node.from + 20)}`);
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id) names.add(q.slice(id.from, id.to));
      }
    },
  });
  if (errors.length) throw new Error(`${errors.join('; ')} in: ${expr}`);
  return [...names];
}

/** Every PromQL expression the project ships: the PrometheusRule's alerts and the Grafana dashboard's panels. */
export function shippedQueries(): Array<{ where: string; expr: string }> {
  const rule = parse(readFileSync(join(ROOT, 'k8s/base/monitoring/prometheusrule.yaml'), 'utf8')) as {
    spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  };
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'k8s/base/monitoring/grafana-dashboard.json'), 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
  };
  return [
    ...rule.spec.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
  ];
}

/** Names an exposition exports, from its `# TYPE` lines (so labelled series that have no sample yet count too). */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}
