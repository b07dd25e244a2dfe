/**
 * tools/progress.ts and tools/run_trace.ts: the progress line's format, its
 * silence off a terminal and with --json, redrawing in place, and the
 * charts a trace makes of what its steps measured.
 */

import assert from "node:assert/strict";
import { formatProgress, Progress, REDRAW_MS_MIN } from "../../tools/progress.ts";
import { RunTrace, unitOf } from "../../tools/run_trace.ts";

/** A Progress on a fake terminal: what it wrote, and a clock the test moves. */
function fake(opts: { terminal: boolean; quiet?: boolean; total?: number; columns?: number }) {
  const written: string[] = [];
  const clock = { ms: 0 };
  const p = new Progress({
    name: "scenario crash",
    total: opts.total ?? 20,
    seed: 1234,
    quiet: opts.quiet,
    isTerminal: () => opts.terminal,
    write: (t) => written.push(t),
    now: () => clock.ms,
    columns: () => opts.columns ?? 120,
  });
  return { p, written, clock };
}

Deno.test("the progress line reads NAME  i/N  elapsed S s  seed S", () => {
  assert.equal(
    formatProgress("scenario crash", 3, 20, 12_345, 1234),
    "scenario crash  3/20  elapsed 12.3 s  seed 1234",
  );
  assert.equal(formatProgress("bench kv", 0, 7, 0), "bench kv  0/7  elapsed 0.0 s");
  assert.equal(
    formatProgress("bench kv", 2, 7, 1500, undefined, "redis-server, always"),
    "bench kv  2/7  elapsed 1.5 s  redis-server, always",
  );
});

Deno.test("off a terminal the progress writes nothing and log lines pass straight through", () => {
  const { p, written, clock } = fake({ terminal: false });
  const printed: string[] = [];
  for (let i = 1; i <= 20; i++) {
    clock.ms += 1000;
    p.update(i);
    p.log(`iteration ${i}`, (s) => printed.push(s));
  }
  p.end();
  assert.equal(p.active, false);
  assert.deepEqual(written, []);
  assert.equal(printed.length, 20);
});

Deno.test("quiet (--json) on a terminal writes nothing", () => {
  const { p, written, clock } = fake({ terminal: true, quiet: true });
  clock.ms = 5000;
  p.update(5);
  p.end();
  assert.deepEqual(written, []);
});

Deno.test("on a terminal the line is redrawn in place and cleared at the end", () => {
  const { p, written, clock } = fake({ terminal: true });
  clock.ms = 2500;
  p.update(1);
  assert.deepEqual(written, ["\r\x1b[2Kscenario crash  1/20  elapsed 2.5 s  seed 1234"]);
  p.end();
  assert.equal(written.at(-1), "\r\x1b[2K");
  assert.ok(written.every((w) => !w.includes("\n")), "never a newline on stderr");
});

Deno.test("a log line lifts the progress line, prints, and draws it again", () => {
  const { p, written, clock } = fake({ terminal: true });
  const printed: string[] = [];
  clock.ms = 1000;
  p.update(1);
  p.log("iteration 1/20: killed", (s) => {
    printed.push(s);
    written.push("<printed>");
  });
  assert.deepEqual(written.slice(1), [
    "\r\x1b[2K",
    "<printed>",
    "\r\x1b[2Kscenario crash  1/20  elapsed 1.0 s  seed 1234",
  ]);
  assert.deepEqual(printed, ["iteration 1/20: killed"]);
});

Deno.test("redraws wait for the redraw interval, except the last step", () => {
  const { p, written, clock } = fake({ terminal: true, total: 3 });
  p.update(1);
  clock.ms += REDRAW_MS_MIN / 2;
  p.update(2);
  assert.equal(written.length, 1, "a second update within the interval is not drawn");
  p.update(3);
  assert.equal(written.length, 2, "the last step is always drawn");
  assert.match(written[1], /3\/3/);
});

Deno.test("a line wider than the terminal is cut so that \\r can redraw it", () => {
  const { p, written } = fake({ terminal: true, columns: 30 });
  p.update(1);
  assert.equal(written[0], "\r\x1b[2K" + "scenario crash  1/20  elapsed 0.0 s".slice(0, 29));
});

Deno.test("a trace charts each unit's measures per step, and a histogram of times", () => {
  const t = new RunTrace({ name: "scenario crash", total: 3, isTerminal: () => false }, "kill");
  t.step(1, { "kill to boot line (ms)": 120, "kill to ready (ms)": NaN, "counter lines seen": 5 });
  t.step(2, { "kill to boot line (ms)": 140, "kill to ready (ms)": 300, "counter lines seen": 9 });
  t.end();
  const charts = t.charts("scenario crash, seed 1");
  assert.deepEqual(charts.map((c) => [c.kind, c.name]), [
    ["line", "per_kill_ms"],
    ["histogram", "ms_histogram"],
    ["line", "per_kill_counter_lines_seen"],
  ]);
  const times = charts[0];
  assert.ok(times.kind === "line");
  assert.deepEqual(times.series.map((s) => [s.label, s.points]), [
    ["kill to boot line (ms)", [[1, 120], [2, 140]]],
    ["kill to ready (ms)", [[2, 300]]],
  ]);
  assert.equal(times.xTitle, "kill");
  assert.equal(times.yTitle, "time (ms)");
  assert.equal(charts[2].title, "scenario crash, seed 1: counter lines seen per kill");
  assert.equal(unitOf("rate (commands/s)"), "commands/s");
  assert.equal(unitOf("counter lines seen"), "");
});

Deno.test("stepLog: an unindented line starts the next step, an indented one is its detail", () => {
  const { p, written, clock } = fake({ terminal: true, total: 3 });
  const step = p.stepLog();
  const at = (ms: number, line: string) => {
    clock.ms = ms;
    step(line);
  };
  at(0, "redis-server, no-aof");
  at(1000, "  warm-up");
  at(2000, "redis-server, always");
  assert.deepEqual(written.map((w) => w.replace("\r\x1b[2K", "")), [
    "scenario crash  0/3  elapsed 0.0 s  seed 1234  redis-server, no-aof",
    "scenario crash  0/3  elapsed 1.0 s  seed 1234  warm-up",
    "scenario crash  1/3  elapsed 2.0 s  seed 1234  redis-server, always",
  ]);
});
