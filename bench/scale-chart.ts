import { Resvg } from '@resvg/resvg-js';

/** One measured point of `npm run bench:scale`. */
export interface ScalePoint {
  layout: string;
  replicas: number;
  events_per_s: number;
}

const W = 720;
const H = 440;
const M = { left: 80, right: 30, top: 50, bottom: 70 };
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

/**
 * A scaling curve as SVG, one line per layout: events/s against replicas (drawn here: a few short lines do not
 * need a charting library; rasterised with resvg).
 */
export function scaleSvg(points: readonly ScalePoint[], title: string, xLabel = 'processor replicas'): string {
  const layouts = [...new Set(points.map((p) => p.layout))];
  const replicas = [...new Set(points.map((p) => p.replicas))].sort((a, b) => a - b);
  const yMax = Math.ceil(Math.max(1, ...points.map((p) => p.events_per_s)) / 10_000) * 10_000;
  const x = (r: number) =>
    M.left + (replicas.length === 1 ? 0.5 : replicas.indexOf(r) / (replicas.length - 1)) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15">${title}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${Math.round(v / 1000)}k</text>`);
  }
  for (const r of replicas) {
    out.push(`<text x="${x(r)}" y="${H - M.bottom + 20}" text-anchor="middle">${r}</text>`);
  }
  out.push(`<text x="${W / 2}" y="${H - M.bottom + 40}" text-anchor="middle">${xLabel}</text>`);
  out.push(`<text x="20" y="${H / 2}" transform="rotate(-90 20 ${H / 2})" text-anchor="middle">events/s</text>`);
  layouts.forEach((layout, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const mine = points.filter((p) => p.layout === layout).sort((a, b) => a.replicas - b.replicas);
    const path = mine.map((p, j) => `${j ? 'L' : 'M'}${x(p.replicas)},${y(p.events_per_s)}`).join('');
    out.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2.5"/>`);
    for (const p of mine) out.push(`<circle cx="${x(p.replicas)}" cy="${y(p.events_per_s)}" r="4" fill="${colour}"/>`);
    const lx = M.left + i * 200;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${H - 14}" y2="${H - 14}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${H - 10}">${layout}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export function scalePng(points: readonly ScalePoint[], title: string, xLabel?: string): Buffer {
  return new Resvg(scaleSvg(points, title, xLabel), { font: { loadSystemFonts: true } }).render().asPng();
}
