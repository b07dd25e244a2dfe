/**
 * Chart primitives of the project's own SVG plots (tools/plot/): the page
 * layout, linear and log scales with their ticks, the axes with titled
 * labels, the legend, the caption lines (command, date, load) and the
 * escaping of text. Every number is written with a fixed number of
 * decimals, so the same input gives the same bytes.
 *
 * Map of this file:
 * - {@link escapeXml}, {@link num}: text and numbers as they go into the SVG.
 * - {@link Scale}, {@link linearScale}, {@link logScale}, {@link scaleFor}: data to pixels, ticks.
 * - {@link LAYOUT}, {@link PLOT_AREA}, {@link PALETTE}: the fixed page.
 * - {@link ChartFrame}, {@link renderFrame}: title, axes, grid, legend, caption around a body.
 *
 * @module
 */

/** `text` with `&`, `<`, `>`, `"` and `'` escaped, for SVG text and attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${ESCAPES[c]};`);
}

const ESCAPES: Record<string, string> = {
  "&": "amp",
  "<": "lt",
  ">": "gt",
  '"': "quot",
  "'": "apos",
};

/** A coordinate in pixels, with two decimals (stable bytes, enough for a screen). */
export function num(v: number): string {
  return (Math.round(v * 100) / 100).toFixed(2).replace(/\.?0+$/, "") || "0";
}

/** Fixed page: 760 × 460 pixels, margins for the axis titles, the legend and the caption. */
export const LAYOUT = {
  width: 760,
  height: 480,
  left: 78,
  right: 24,
  /** Room above: the title and up to two legend rows. */
  top: 66,
  /** Room under the plot area: tick labels, the x title, the caption lines. */
  bottom: 112,
  /** Height of one caption line. */
  captionLine: 13,
} as const;

/** The rectangle the data is drawn in (pixels). */
export const PLOT_AREA = {
  x0: LAYOUT.left,
  x1: LAYOUT.width - LAYOUT.right,
  y0: LAYOUT.top,
  y1: LAYOUT.height - LAYOUT.bottom,
} as const;

/** Series colours, in order (colour-blind-safe Okabe–Ito set). */
export const PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#CC79A7",
  "#56B4E9",
  "#D55E00",
  "#F0E442",
  "#000000",
] as const;

/** The colour of series `i`. */
export function colour(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** Data values to pixels along one axis, and the ticks to label it with. */
export interface Scale {
  readonly kind: "linear" | "log";
  /** Lowest and highest data value shown. */
  readonly min: number;
  readonly max: number;
  /** The pixel of data value `v` (values outside [min, max] land outside the range). */
  map(v: number): number;
  /** Tick values inside [min, max], ascending. */
  ticks(): number[];
  /** Can `v` be drawn on this scale (finite; above 0 on a log scale)? */
  accepts(v: number): boolean;
}

/** A linear scale from [min, max] to the pixels [p0, p1], with "nice" ticks (1, 2, 5 × 10^k). */
export function linearScale(min: number, max: number, p0: number, p1: number): Scale {
  if (!(max > min)) [min, max] = [min - 1, max + 1];
  const step = niceStep((max - min) / 5);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  return {
    kind: "linear",
    min: lo,
    max: hi,
    map: (v) => p0 + ((v - lo) / (hi - lo)) * (p1 - p0),
    ticks: () => {
      const out: number[] = [];
      for (let k = 0; lo + k * step <= hi + step / 1e6; k++) out.push(roundTo(lo + k * step, step));
      return out;
    },
    accepts: Number.isFinite,
  };
}

/** A log-10 scale from [min, max] (both > 0) to [p0, p1], ticks at the powers of ten (and 2, 5). */
export function logScale(min: number, max: number, p0: number, p1: number): Scale {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)));
  const map = (v: number) => p0 + ((Math.log10(v) - lo) / (hi - lo)) * (p1 - p0);
  return {
    kind: "log",
    min: 10 ** lo,
    max: 10 ** hi,
    map,
    ticks: () => {
      const mult = hi - lo <= 2 ? [1, 2, 5] : [1];
      const out: number[] = [];
      for (let e = lo; e <= hi; e++) {
        for (const m of mult) if (e < hi || m === 1) out.push(roundTo(m * 10 ** e, 10 ** e));
      }
      return out;
    },
    accepts: (v) => Number.isFinite(v) && v > 0,
  };
}

/**
 * The scale for `values` along [p0, p1]: log when asked and every drawable
 * value is above 0; linear otherwise, from 0 when `fromZero` (bars, counts).
 */
export function scaleFor(
  values: number[],
  p0: number,
  p1: number,
  opts: { log?: boolean; fromZero?: boolean } = {},
): Scale {
  const finite = values.filter(Number.isFinite);
  const positive = finite.filter((v) => v > 0);
  if (opts.log && positive.length > 0) {
    return logScale(Math.min(...positive), Math.max(...positive), p0, p1);
  }
  const lo = finite.length ? Math.min(...finite) : 0;
  const hi = finite.length ? Math.max(...finite) : 1;
  return linearScale(
    opts.fromZero ? Math.min(0, lo) : lo,
    opts.fromZero ? Math.max(0, hi) : hi,
    p0,
    p1,
  );
}

function niceStep(raw: number): number {
  const e = 10 ** Math.floor(Math.log10(raw));
  const f = raw / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

function roundTo(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(digits, 12)));
}

/** A tick label: 1.5k, 2M, 0.25, 12 (at most 3 significant digits). */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  return trim(v);
}

function trim(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** One entry of the legend. */
export interface LegendEntry {
  label: string;
  colour: string;
}

/** Everything around the data: titles, scales (or the categories of the x axis), legend, caption. */
export interface ChartFrame {
  title: string;
  /** Axis titles, with units: "pause (µs)". */
  xTitle: string;
  yTitle: string;
  /** Numeric x axis, or category names centred at the given pixels (bars). */
  x: Scale | { categories: Array<{ label: string; at: number }> };
  y: Scale;
  legend: LegendEntry[];
  /** Lines under the chart: the command, the date, the load. */
  caption: string[];
}

/** The whole SVG document: the frame of `frame` with `body` (SVG elements) in the plot area. */
export function renderFrame(frame: ChartFrame, body: string[]): string {
  const { width, height } = LAYOUT;
  const a = PLOT_AREA;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(frame.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text class="title" x="${num(width / 2)}" y="24" text-anchor="middle" font-size="15" ` +
    `font-weight="bold">${escapeXml(frame.title)}</text>`,
    `<rect class="plot-area" x="${a.x0}" y="${a.y0}" width="${a.x1 - a.x0}" ` +
    `height="${a.y1 - a.y0}" fill="none" stroke="#888888"/>`,
    ...yAxis(frame.y),
    ...xAxis(frame.x),
    `<text class="x-title" x="${num((a.x0 + a.x1) / 2)}" y="${a.y1 + 46}" ` +
    `text-anchor="middle">${escapeXml(frame.xTitle)}</text>`,
    `<text class="y-title" x="16" y="${num((a.y0 + a.y1) / 2)}" text-anchor="middle" ` +
    `transform="rotate(-90 16 ${num((a.y0 + a.y1) / 2)})">${escapeXml(frame.yTitle)}</text>`,
    `<g class="data">`,
    ...body,
    `</g>`,
    ...legend(frame.legend),
    ...caption(frame.caption),
    `</svg>`,
  ];
  return out.join("\n") + "\n";
}

function yAxis(y: Scale): string[] {
  const a = PLOT_AREA;
  return y.ticks().flatMap((t) => {
    const py = num(y.map(t));
    return [
      `<line class="grid" x1="${a.x0}" y1="${py}" x2="${a.x1}" y2="${py}" stroke="#e4e4e4"/>`,
      `<text class="y-tick" x="${a.x0 - 6}" y="${py}" text-anchor="end" ` +
      `dominant-baseline="middle">${escapeXml(tickLabel(t))}</text>`,
    ];
  });
}

function xAxis(x: ChartFrame["x"]): string[] {
  const a = PLOT_AREA;
  const ticks = "categories" in x
    ? x.categories
    : x.ticks().map((t) => ({ label: tickLabel(t), at: x.map(t) }));
  const spacing = ticks.length > 1 ? Math.abs(ticks[1].at - ticks[0].at) : a.x1 - a.x0;
  return ticks.flatMap(({ label, at }) => [
    `<line class="x-mark" x1="${num(at)}" y1="${a.y1}" x2="${num(at)}" y2="${a.y1 + 5}" ` +
    `stroke="#888888"/>`,
    ...wrapLabel(label, spacing).map((line, i) =>
      `<text class="x-tick" x="${num(at)}" y="${a.y1 + 17 + i * 12}" text-anchor="middle"` +
      `${line.length * CHAR_PX > spacing ? ' font-size="9"' : ""}>${escapeXml(line)}</text>`
    ),
  ]);
}

/** Average width of a character at 12 px, for fitting labels. */
const CHAR_PX = 6.4;

/** `label` on one line, or two (split at spaces, `_` or `,`) when one is wider than `px`. */
export function wrapLabel(label: string, px: number): string[] {
  if (label.length * CHAR_PX <= px) return [label];
  const words = label.split(/[ _]+/);
  if (words.length < 2) return [label];
  let best = [label];
  let bestWidth = Infinity;
  for (let k = 1; k < words.length; k++) {
    const lines = [words.slice(0, k).join(" "), words.slice(k).join(" ")];
    const w = Math.max(...lines.map((l) => l.length));
    if (w < bestWidth) [best, bestWidth] = [lines, w];
  }
  return best;
}

/** The legend: one row (two when long) between the title and the plot area. */
function legend(entries: LegendEntry[]): string[] {
  if (entries.length === 0) return [];
  const out = [`<g class="legend">`];
  let x = PLOT_AREA.x0;
  let y = 34;
  for (const e of entries) {
    const w = 24 + e.label.length * CHAR_PX;
    if (x + w > PLOT_AREA.x1 && x > PLOT_AREA.x0) [x, y] = [PLOT_AREA.x0, y + 15];
    out.push(
      `<rect x="${num(x)}" y="${y}" width="12" height="10" fill="${e.colour}"/>`,
      `<text class="legend-entry" x="${num(x + 16)}" y="${y + 9}">${escapeXml(e.label)}</text>`,
    );
    x += w;
  }
  out.push(`</g>`);
  return out;
}

function caption(lines: string[]): string[] {
  const y0 = PLOT_AREA.y1 + 66;
  return lines.map((l, i) =>
    `<text class="caption" x="${LAYOUT.left}" y="${y0 + i * LAYOUT.captionLine}" ` +
    `font-size="10" fill="#555555">${escapeXml(l)}</text>`
  );
}

/** A note in the middle of the plot area (e.g. "no data"). */
export function centreNote(text: string): string {
  const a = PLOT_AREA;
  return `<text class="note" x="${num((a.x0 + a.x1) / 2)}" y="${num((a.y0 + a.y1) / 2)}" ` +
    `text-anchor="middle" fill="#888888">${escapeXml(text)}</text>`;
}
