/**
 * The benches' plots (tools/bench/plots.ts): a real run writes its SVGs
 * into --plots DIR and names each on stderr while stdout keeps exactly one
 * JSON object; every bench's chart mapping copes with missing figures.
 */

import assert from "node:assert/strict";
import { runBench } from "./run_bench.ts";
import { FIGURE_PLOTS } from "../../../tools/bench/plots.ts";
import { renderChart } from "../../../tools/plot/mod.ts";

Deno.test("bench memory --json --plots DIR: one JSON object on stdout, the SVGs in DIR", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tardigrade-plots-" });
  try {
    const out = await runBench("memory", ["--quick", "--json", "--plots", dir]);
    assert.ok(out.success, out.stderr);
    const lines = out.stdout.trim().split("\n");
    assert.equal(lines.length, 1, `stdout is one line: ${out.stdout}`);
    const figures = JSON.parse(lines[0]);
    assert.equal(typeof figures.alloc_object_median_ns, "number");
    const named = [...out.stderr.matchAll(/^plot: (.*)$/gm)].map((m) => m[1]);
    assert.deepEqual(named, [
      `${dir}/memory_alloc_latency.svg`,
      `${dir}/memory_frames_throughput.svg`,
    ]);
    for (const path of named) {
      const svg = await Deno.readTextFile(path);
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /<text class="caption"[^>]*>command: deno task bench memory --quick/);
      assert.doesNotMatch(svg, /no data/, `${path} drew the run's figures`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--plots off writes nothing and names nothing", async () => {
  const out = await runBench("memory", ["--quick", "--plots", "off"]);
  assert.ok(out.success, out.stderr);
  assert.doesNotMatch(out.stdout + out.stderr, /^plot: /m);
});

Deno.test("every bench's charts draw from no figures at all: axes and 'no data'", () => {
  for (const [bench, plots] of Object.entries(FIGURE_PLOTS)) {
    const charts = plots({});
    assert.ok(charts.length > 0, `${bench} has charts`);
    for (const c of charts) assert.match(renderChart(c, []), /no data/, `${bench} ${c.name}`);
  }
});
