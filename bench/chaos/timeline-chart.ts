import { Resvg } from '@resvg/resvg-js';

/** One sample of the run, as runChaos records it every half second. */
export interface TimelinePoint {
  t_s: number;
  acknowledged: number;
  stored: number;
  queue_depth: number;
  spool_bytes: number;
}

const W = 1000;
const PLOT_H = 420;
const M = { left: 70, right: 80, top: 40 };
const SERIES = [
  { key: 'acknowledged', label: 'acknowledged to producers', colour: '#1f77b4', axis: 'left' },
  { key: 'stored', label: 'stored in PostgreSQL', colour: '#2ca02c', axis: 'left' },
  { key: 'queue_depth', label: 'tasks waiting in Redis', colour: '#ff7f0e', axis: 'right' },
  { key: 'spool_bytes', label: 'hub spool (KiB)', colour: '#9467bd', axis: 'right' },
] as const;

/**
 * The chaos run's timeline as an SVG line chart: readings acknowledged and stored (left axis), queue depth and
 * spool size (right axis), each fault a shaded band. Written by hand — four lines and some bands do not need a
 * charting library — and rasterised with resvg.
 */
export function timelineSvg(
  points: readonly TimelinePoint[],
  faults: ReadonlyArray<{ name: string; at_s: number; took_s: number }>,
): string {
  // Below the plot: the time axis, the series' legend, then one line per fault.
  const bottom = 70 + faults.length * 16;
  const H = M.top + PLOT_H + bottom;
  const tMax = Math.max(1, ...points.map((p) => p.t_s));
  const value = (p: TimelinePoint, key: (typeof SERIES)[number]['key']) =>
    key === 'spool_bytes' ? p.spool_bytes / 1024 : p[key];
  const finite = (xs: number[]) => xs.filter((x) => Number.isFinite(x));
  const leftMax = nice(Math.max(1, ...finite(points.flatMap((p) => [p.acknowledged, p.stored]))));
  const rightMax = nice(Math.max(1, ...finite(points.flatMap((p) => [p.queue_depth, p.spool_bytes / 1024]))));
  const x = (t: number) => M.left + (t / tMax) * (W - M.left - M.right);
  const y = (v: number, max: number) => M.top + PLOT_H - (v / max) * PLOT_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">npm run chaos: readings acknowledged and stored while faults come and go</text>`,
  ];
  faults.forEach((f, i) => {
    const x0 = x(f.at_s);
    const x1 = Math.max(x0 + 2, x(f.at_s + f.took_s));
    out.push(`<rect x="${x0}" y="${M.top}" width="${x1 - x0}" height="${PLOT_H}" fill="#d62728" opacity="0.12"/>`);
    out.push(`<text x="${x0 + 3}" y="${M.top + 14 + (i % 4) * 14}" fill="#d62728" font-size="11">${i + 1}</text>`);
  });
  for (let i = 0; i <= 5; i++) {
    const lv = (leftMax * i) / 5;
    const rv = (rightMax * i) / 5;
    const yy = y(lv, leftMax);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${yy + 4}" text-anchor="end">${fmt(lv)}</text>`);
    out.push(`<text x="${W - M.right + 6}" y="${yy + 4}">${fmt(rv)}</text>`);
    const tt = (tMax * i) / 5;
    out.push(`<text x="${x(tt)}" y="${M.top + PLOT_H + 18}" text-anchor="middle">${Math.round(tt)} s</text>`);
  }
  for (const s of SERIES) {
    const max = s.axis === 'left' ? leftMax : rightMax;
    const path = points
      .filter((p) => Number.isFinite(value(p, s.key)))
      .map((p, i) => `${i ? 'L' : 'M'}${x(p.t_s).toFixed(1)},${y(value(p, s.key), max).toFixed(1)}`)
      .join('');
    out.push(`<path d="${path}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
  }
  const legendY = M.top + PLOT_H + 44;
  SERIES.forEach((s, i) => {
    const lx = M.left + i * 220;
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${legendY}" y2="${legendY}" stroke="${s.colour}" stroke-width="3"/>`,
    );
    out.push(`<text x="${lx + 30}" y="${legendY + 4}">${s.label}${s.axis === 'right' ? ' →' : ''}</text>`);
  });
  faults.forEach((f, i) => {
    const fx = M.left;
    const fy = legendY + 26 + i * 16;
    out.push(`<text x="${fx}" y="${fy}" fill="#d62728">${i + 1}  ${escapeXml(f.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** The chart as a PNG. */
export function timelinePng(...args: Parameters<typeof timelineSvg>): Buffer {
  return new Resvg(timelineSvg(...args), { font: { loadSystemFonts: true } }).render().asPng();
}

/** The next round axis maximum at or above `v` (a short list of steps × a power of ten). */
function nice(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * p).find((n) => n >= v)!;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(v: number): string {
  return v >= 1000 ? `${Number((v / 1000).toFixed(1))}k` : String(Number(v.toFixed(1)));
}
