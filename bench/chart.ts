/**
 * The run's chart as a standalone SVG: line panels stacked vertically (throughput of each
 * contender over time in the headline scenario; docpipe's RSS and rows written per second
 * with a stalled, then released, sink).
 *
 * Written here rather than taken from a charting library: the ones that render SVG in Node
 * without a browser (Vega, for one) bring megabytes of dependencies for what is a few
 * polylines and axes, and the chart's input is already plain arrays of points.
 */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** A horizontal line to compare against, e.g. a memory target. */
  reference?: { value: number; label: string };
  /** A vertical line at an x value, e.g. when the sink was released. */
  marker?: { at: number; label: string };
}

const WIDTH = 900;
const PANEL_HEIGHT = 300;
const MARGIN = { left: 80, right: 220, top: 36, bottom: 44 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About five round tick values from 0 to at least `max`. */
const ticks = (max: number): number[] => {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 0.999; v += step) out.push(v);
  return out;
};

const label = (v: number) => (v >= 10_000 ? `${Math.round(v / 1000)}k` : Number.isInteger(v) ? String(v) : v.toFixed(1));

const renderPanel = (p: Panel, top: number): string => {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const all = p.series.flatMap((s) => s.points);
  const xTicks = ticks(Math.max(1e-9, ...all.map(([x]) => x)));
  const yTicks = ticks(Math.max(p.reference?.value ?? 0, ...all.map(([, y]) => y)));
  const xMax = xTicks.at(-1)!;
  const yMax = yTicks.at(-1)!;
  const sx = (x: number) => MARGIN.left + (x / xMax) * plotW;
  const sy = (y: number) => top + MARGIN.top + plotH - (y / yMax) * plotH;
  const parts: string[] = [
    `<text x="${MARGIN.left}" y="${top + 22}" font-size="15" font-weight="bold">${escapeXml(p.title)}</text>`,
    `<rect x="${MARGIN.left}" y="${top + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (const t of yTicks) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${sy(t) + 4}" font-size="11" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<text x="${sx(t)}" y="${top + MARGIN.top + plotH + 16}" font-size="11" text-anchor="middle">${label(t)}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${top + PANEL_HEIGHT - 6}" font-size="12" text-anchor="middle">${escapeXml(p.xLabel)}</text>`);
  parts.push(
    `<text x="16" y="${top + MARGIN.top + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${top + MARGIN.top + plotH / 2})">${escapeXml(p.yLabel)}</text>`,
  );
  if (p.reference) {
    const y = sy(p.reference.value);
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y}" y2="${y}" stroke="#000" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${MARGIN.left + plotW - 4}" y="${y - 4}" font-size="11" text-anchor="end">${escapeXml(p.reference.label)}</text>`);
  }
  if (p.marker) {
    const x = sx(p.marker.at);
    parts.push(`<line x1="${x}" x2="${x}" y1="${top + MARGIN.top}" y2="${top + MARGIN.top + plotH}" stroke="#555" stroke-dasharray="3 3"/>`);
    parts.push(`<text x="${x + 4}" y="${top + MARGIN.top + 14}" font-size="11">${escapeXml(p.marker.label)}</text>`);
  }
  p.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const d = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${d}" fill="none" stroke="${colour}" stroke-width="1.8"/>`);
    const ly = top + MARGIN.top + 10 + i * 18;
    const lx = MARGIN.left + plotW + 14;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 24}" y="${ly + 4}" font-size="11">${escapeXml(s.name)}</text>`);
  });
  return parts.join('\n');
};

export const renderChart = (title: string, panels: readonly Panel[]): string => {
  const height = 40 + panels.length * PANEL_HEIGHT;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="24" font-size="16" text-anchor="middle">${escapeXml(title)}</text>`,
    ...panels.map((p, i) => renderPanel(p, 40 + i * PANEL_HEIGHT)),
    '</svg>',
    '',
  ].join('\n');
};

/** Rows per second over windows of about `windowMs`, from cumulative [ms, rows] samples. */
export const rates = (timeline: readonly (readonly [number, number])[], windowMs = 1000): [number, number][] => {
  const out: [number, number][] = [];
  let from = timeline[0];
  for (const point of timeline.slice(1)) {
    if (!from || point[0] - from[0] < windowMs) continue;
    out.push([point[0] / 1000, ((point[1] - from[1]) * 1000) / (point[0] - from[0])]);
    from = point;
  }
  return out;
};
