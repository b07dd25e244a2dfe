/**
 * The SVG charts of tools/plot/: titles, axis titles, legend entries, every
 * point and bar inside the plot area, escaping, empty series, same input
 * → same bytes.
 */

import assert from "node:assert/strict";
import { type Chart, renderChart } from "../../tools/plot/mod.ts";
import { PLOT_AREA, wrapLabel } from "../../tools/plot/svg.ts";
import { bucketEdges, bucketShares } from "../../tools/plot/histogram.ts";
import { figureBars, figureSeries } from "../../tools/plot/figures.ts";

const CAPTION = ["command: deno task bench x", "2026-12-02 06:00 UTC, 2 cores"];

/** The text content of every `<text class="CLASS">` element, unescaped. */
function texts(svg: string, cls: string): string[] {
  const re = new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, "g");
  return [...svg.matchAll(re)].map((m) => unescape(m[1]));
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** Numeric attribute `name` of every element `<tag class="cls" …>`. */
function attrs(svg: string, tag: string, cls: string, names: string[]): number[][] {
  const re = new RegExp(`<${tag} class="${cls}"[^>]*>`, "g");
  return [...svg.matchAll(re)].map((m) =>
    names.map((n) => Number(new RegExp(` ${n}="([^"]*)"`).exec(m[0])![1]))
  );
}

function assertInside(x: number, y: number, what: string): void {
  const a = PLOT_AREA;
  assert.ok(x >= a.x0 - 0.01 && x <= a.x1 + 0.01, `${what}: x ${x} outside ${a.x0}…${a.x1}`);
  assert.ok(y >= a.y0 - 0.01 && y <= a.y1 + 0.01, `${what}: y ${y} outside ${a.y0}…${a.y1}`);
}

/** Every point and bar of `svg` is inside the plot area; returns how many there were. */
function assertAllInside(svg: string): number {
  const points = attrs(svg, "circle", "point", ["cx", "cy"]);
  for (const [x, y] of points) assertInside(x, y, "point");
  const bars = attrs(svg, "rect", "bar", ["x", "y", "width", "height"]);
  for (const [x, y, w, h] of bars) {
    assertInside(x, y, "bar corner");
    assertInside(x + w, y + h, "bar far corner");
  }
  return points.length + bars.length;
}

/** No NaN or Infinity was written, and every `&` starts an entity. */
function assertWellFormedText(svg: string): void {
  assert.doesNotMatch(svg, /NaN|Infinity/);
  assert.doesNotMatch(svg, /&(?!(amp|lt|gt|quot|apos);)/);
}

const line: Chart = {
  kind: "line",
  name: "pause",
  title: "Pause against dirty pages",
  xTitle: "dirty pages per checkpoint",
  yTitle: "pause (µs)",
  xLog: true,
  yLog: true,
  series: [
    { label: "median", points: [[1, 40], [64, 90], [1024, 900]] },
    { label: "p99", points: [[1, 120], [64, 300], [1024, 4000]] },
  ],
};

Deno.test("a line chart has its title, axis titles, legend and every point inside the area", () => {
  const svg = renderChart(line, CAPTION);
  assert.deepEqual(texts(svg, "title"), ["Pause against dirty pages"]);
  assert.deepEqual(texts(svg, "x-title"), ["dirty pages per checkpoint"]);
  assert.deepEqual(texts(svg, "y-title"), ["pause (µs)"]);
  assert.deepEqual(texts(svg, "legend-entry"), ["median", "p99"]);
  assert.deepEqual(texts(svg, "caption"), CAPTION);
  assert.equal(assertAllInside(svg), 6);
  assert.ok(texts(svg, "x-tick").length >= 2, "the x axis has ticks");
  assert.ok(texts(svg, "y-tick").length >= 2, "the y axis has ticks");
  assertWellFormedText(svg);
});

Deno.test("a larger value is drawn higher, and further right on the x axis", () => {
  const svg = renderChart({ ...line, xLog: false, yLog: false }, CAPTION);
  const [a, b, c] = attrs(svg, "circle", "point", ["cx", "cy"]);
  assert.ok(a[0] < b[0] && b[0] < c[0], "x grows to the right");
  assert.ok(a[1] > b[1] && b[1] > c[1], "y grows upwards (smaller pixel y)");
});

Deno.test("same chart, same bytes", () => {
  assert.equal(renderChart(line, CAPTION), renderChart(structuredClone(line), CAPTION));
});

Deno.test("text with < & > and quotes is escaped in titles, legend and caption", () => {
  const nasty = `a<b & "c" 'd'>`;
  const svg = renderChart({
    ...line,
    title: nasty,
    xTitle: nasty,
    series: [{ label: nasty, points: [[1, 1], [2, 2]] }],
  }, [nasty]);
  assert.doesNotMatch(svg, /a<b/);
  assert.match(svg, /a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;/);
  assert.deepEqual(texts(svg, "title"), [nasty]);
  assert.deepEqual(texts(svg, "legend-entry"), [nasty]);
  assert.deepEqual(texts(svg, "caption"), [nasty]);
  assertWellFormedText(svg);
});

Deno.test("empty series and no series give axes and a note, never NaN", () => {
  for (
    const series of [[], [{ label: "none", points: [] as Array<[number, number]> }]]
  ) {
    const svg = renderChart({ ...line, series }, CAPTION);
    assert.deepEqual(texts(svg, "note"), ["no data"]);
    assert.equal(assertAllInside(svg), 0);
    assertWellFormedText(svg);
  }
  const bars = renderChart({
    kind: "bars",
    name: "b",
    title: "t",
    xTitle: "x",
    yTitle: "y",
    groups: [],
    series: [],
  }, CAPTION);
  assert.deepEqual(texts(bars, "note"), ["no data"]);
  assertWellFormedText(bars);
  const hist = renderChart(
    { kind: "histogram", name: "h", title: "t", xTitle: "x", series: [{ label: "s", values: [] }] },
    CAPTION,
  );
  assert.deepEqual(texts(hist, "note"), ["no data"]);
  assertWellFormedText(hist);
});

Deno.test("a log axis leaves out zero and negative values and keeps the rest inside", () => {
  const svg = renderChart({
    ...line,
    series: [{ label: "s", points: [[0, 5], [-1, 5], [10, 0], [10, 7], [100, 70]] }],
  }, CAPTION);
  assert.equal(assertAllInside(svg), 2);
  assertWellFormedText(svg);
});

Deno.test("grouped bars: one bar per series and group, inside the area, missing values a gap", () => {
  const svg = renderChart({
    kind: "bars",
    name: "kv",
    title: "KV throughput beside Redis",
    xTitle: "test",
    yTitle: "requests per second",
    groups: ["SET -c 1", "GET -c 1", "INCR -c 1"],
    series: [
      { label: "Redis", values: [50_000, 60_000, 55_000] },
      { label: "Tardigrade", values: [30_000, undefined, 20_000] },
    ],
  }, CAPTION);
  assert.equal(assertAllInside(svg), 5);
  assert.deepEqual(texts(svg, "legend-entry"), ["Redis", "Tardigrade"]);
  assert.deepEqual(texts(svg, "x-tick"), ["SET -c 1", "GET -c 1", "INCR -c 1"]);
  const heights = attrs(svg, "rect", "bar", ["height"]).map(([h]) => h);
  // Group by group: Redis SET, Tardigrade SET, Redis GET, …
  assert.ok(heights[2] > heights[0], "60k is drawn taller than 50k");
  assert.ok(heights[1] < heights[0], "30k is drawn shorter than 50k");
  assertWellFormedText(svg);
});

Deno.test("bars on a log axis stay inside the area", () => {
  const svg = renderChart({
    kind: "bars",
    name: "r",
    title: "ratios",
    xTitle: "workload",
    yTitle: "ratio",
    yLog: true,
    groups: ["a", "b"],
    series: [{ label: "s", values: [0.02, 30] }, { label: "t", values: [0, 1] }],
  }, CAPTION);
  assert.equal(assertAllInside(svg), 3);
  assertWellFormedText(svg);
});

Deno.test("a histogram's buckets share edges, count every sample once, and stay inside", () => {
  const edges = bucketEdges(1, 100, 10, true);
  assert.equal(edges.length, 11);
  assert.ok(Math.abs(edges[5] - 10) < 1e-9, "log buckets split 1…100 at 10");
  const values = [1, 2, 3, 10, 50, 100, 500];
  const { shares, above } = bucketShares(values, edges);
  assert.equal(above, 1);
  assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - (600 / 7)) < 1e-9);
  const svg = renderChart({
    kind: "histogram",
    name: "rtt",
    title: "IPC round trip",
    xTitle: "round trip (µs)",
    xLog: true,
    series: [
      { label: "rings", values: Float64Array.from({ length: 500 }, (_, i) => 1 + (i % 7)) },
      { label: "postMessage", values: Float64Array.from({ length: 100 }, (_, i) => 40 + i) },
    ],
  }, CAPTION);
  assert.ok(assertAllInside(svg) > 5);
  assert.deepEqual(texts(svg, "y-title"), ["share of samples (%)"]);
  assert.deepEqual(texts(svg, "legend-entry"), ["rings (n = 500)", "postMessage (n = 100)"]);
  assertWellFormedText(svg);
});

Deno.test("series from figures: the capture is x, sorted; bars per group and series", () => {
  const f = { pause_us_pages_64: 9, pause_us_pages_1: 4, other: 1, pause_us_pages_x: 3 };
  assert.deepEqual(figureSeries(f, "m", /^pause_us_pages_(\d+)$/).points, [[1, 4], [64, 9]]);
  const b = figureBars(
    { a_set_rps: 1, b_set_rps: 2, a_get_rps: 3 },
    [["SET", "set"], ["GET", "get"]],
    [["A", "a"], ["B", "b"]],
    (s, g) => `${s}_${g}_rps`,
  );
  assert.deepEqual(b.groups, ["SET", "GET"]);
  assert.deepEqual(b.series.map((s) => s.values), [[1, 3], [2, undefined]]);
});

Deno.test("a long category label is split over two lines, a short one is not", () => {
  assert.deepEqual(wrapLabel("stat", 60), ["stat"]);
  assert.deepEqual(wrapLabel("rand_write_4k", 60), ["rand", "write 4k"]);
});
