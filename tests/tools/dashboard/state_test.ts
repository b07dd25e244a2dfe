/**
 * The dashboard's reducer (tools/dashboard/state.ts), line by line: a
 * machine's life (start, ready, checkpoints, a SIGKILL, the gap, the
 * resume), console bytes re-sent after a resume counted once, events,
 * reports and the bounds.
 */

import assert from "node:assert/strict";
import {
  type DashboardInput,
  type DashboardState,
  initialState,
  LOG_ENTRIES_MAX,
  PAUSE_BUCKETS_US,
  pauseBucket,
  reduce,
} from "../../../tools/dashboard/state.ts";
import type { CommittedStats, MachineLine } from "../../../hw/board.ts";
import type { SystemReport } from "../../../kernel/abi/report.ts";

const ALLOWED = { checkpoint: true, inject: false, powerCut: true };

function run(inputs: DashboardInput[], from = initialState(ALLOWED)): DashboardState {
  return inputs.reduce(reduce, from);
}

const line = (atMs: number, l: MachineLine): DashboardInput => ({ atMs, line: l });

function stats(epoch: number, pauseUs: number): CommittedStats {
  return {
    epoch,
    freezeUs: 0,
    capTreeUs: 0,
    objectsUs: {},
    pageCopyUs: 0,
    pauseUs,
    dirtyPages: 1,
    cowPages: 0,
    objectRecords: 0,
    commitUs: 2 * pauseUs,
  };
}

const BOOTED: DashboardInput[] = [
  { atMs: 1, supervisor: { t: "machine-started", pid: 100 } },
  line(2, { t: "boot", fresh: true, epoch: 0 }),
  line(3, { t: "ready", epoch: 0, resumed: false, ms: 5 }),
  line(4, { t: "checkpoints", stats: [stats(1, 50), stats(2, 300), stats(3, 90_000)] }),
  line(5, { t: "console", thread: 7, name: "counter", off: 0, text: "counter 1\n", epoch: 3 }),
];

Deno.test("reduce: a booted machine is running, with its pid, epoch, checkpoints and components", () => {
  const s = run(BOOTED);
  assert.equal(s.machine.phase, "running");
  assert.equal(s.machine.pid, 100);
  assert.equal(s.machine.epoch, 3);
  assert.equal(s.checkpoints.committed, 3);
  assert.deepEqual(s.checkpoints.timeline.map((e) => [e.epoch, e.pauseUs, e.commitUs]), [
    [1, 50, 100],
    [2, 300, 600],
    [3, 90_000, 180_000],
  ]);
  const h = s.checkpoints.pauseHistogram;
  assert.equal(h.length, PAUSE_BUCKETS_US.length + 1);
  assert.equal(h[pauseBucket(50)], 1);
  assert.equal(h[pauseBucket(300)], 1);
  assert.equal(
    h[PAUSE_BUCKETS_US.length],
    1,
    "a pause past the last bound goes to the last bucket",
  );
  assert.deepEqual(s.components, [{ name: "counter", thread: 7, releasedBytes: 10 }]);
  assert.deepEqual(s.checkpoints.releases, [{ atMs: 5, epoch: 3, bytes: 10 }]);
  assert.equal(s.version, BOOTED.length, "every input here changed something");
});

Deno.test("reduce: a SIGKILL opens an outage that the resume closes; the epoch carries on", () => {
  const s = run([
    ...BOOTED,
    { atMs: 10, supervisor: { t: "machine-exited", code: 137, signal: "SIGKILL" } },
  ]);
  assert.equal(s.machine.phase, "down");
  assert.equal(s.machine.crashes, 1);
  assert.deepEqual(s.outages, [{ fromMs: 10, toMs: null, cause: "SIGKILL" }]);
  assert.match(s.log.at(-1)!.text, /machine process 100 died \(SIGKILL\)/);
  const r = run([
    { atMs: 11, supervisor: { t: "machine-started", pid: 101 } },
    line(12, { t: "boot", fresh: false, epoch: 3 }),
    line(13, { t: "ready", epoch: 3, resumed: true, ms: 4 }),
  ], s);
  assert.equal(r.machine.phase, "running");
  assert.equal(r.machine.pid, 101);
  assert.equal(r.machine.resumes, 1);
  assert.equal(r.machine.starts, 2);
  assert.deepEqual(r.outages, [{ fromMs: 10, toMs: 13, cause: "SIGKILL" }]);
  assert.equal(r.log.at(-1)!.kind, "resume");
  assert.equal(r.machine.epoch, 3);
});

Deno.test("reduce: a clean halt is no crash and opens no outage", () => {
  const s = run([
    ...BOOTED,
    line(9, { t: "halt", epoch: 4 }),
    { atMs: 10, supervisor: { t: "machine-exited", code: 0, signal: null } },
  ]);
  assert.equal(s.machine.phase, "halted");
  assert.equal(s.machine.crashes, 0);
  assert.deepEqual(s.outages, []);
});

Deno.test("reduce: console bytes a resumed machine sends again are counted once", () => {
  const s = run([
    ...BOOTED,
    line(20, { t: "console", thread: 7, name: "counter", off: 0, text: "counter 1\n", epoch: 4 }),
    line(21, {
      t: "console",
      thread: 7,
      name: "counter",
      off: 5,
      text: "er 1\ncounter 2\n",
      epoch: 5,
    }),
  ]);
  assert.equal(s.components[0].releasedBytes, 20);
  assert.deepEqual(s.checkpoints.releases.map((r) => [r.epoch, r.bytes]), [[3, 10], [5, 10]]);
});

Deno.test("reduce: a checkpoint-now event counts a checkpoint taken on request; events are logged", () => {
  const s = run([
    ...BOOTED,
    { atMs: 30, supervisor: { t: "action", action: "checkpoint", text: "checkpoint asked for" } },
    line(31, {
      t: "event",
      kind: "checkpoint-now",
      component: "command-port",
      text: "checkpoint 9 taken on request",
      epoch: 9,
    }),
    line(32, {
      t: "event",
      kind: "restart",
      component: "fs",
      thread: 4,
      text: "restarted",
      epoch: 9,
    }),
  ]);
  assert.equal(s.checkpoints.requested, 1);
  assert.equal(s.checkpoints.requestedCommitted, 1);
  assert.equal(s.machine.epoch, 9);
  assert.deepEqual(s.log.slice(-2).map((e) => [e.kind, e.text]), [
    ["checkpoint-now", "command-port: checkpoint 9 taken on request"],
    ["restart", "fs#4: restarted"],
  ]);
});

Deno.test("reduce: the report and the net line are kept as the newest; stages change nothing", () => {
  const before = run(BOOTED);
  assert.equal(reduce(before, line(40, { t: "stage", name: "x", ms: 1 })), before);
  const net = [{ conn: 5, port: 7007, releasedBytes: 12, heldBytes: 3 }];
  const report = { epoch: 12, groups: [] } as unknown as SystemReport;
  const s = run([line(41, { t: "net", conns: net }), line(42, { t: "report", report })], before);
  assert.deepEqual(s.net, net);
  assert.equal(s.report, report);
  assert.equal(s.reportAtMs, 42);
  assert.equal(s.machine.epoch, 12);
});

Deno.test("reduce: the log stays bounded, oldest dropped first", () => {
  const many: DashboardInput[] = [];
  for (let i = 0; i < LOG_ENTRIES_MAX + 10; i++) {
    many.push({ atMs: i, supervisor: { t: "action", action: "inject", text: `n${i}` } });
  }
  const s = run(many);
  assert.equal(s.log.length, LOG_ENTRIES_MAX);
  assert.equal(s.log[0].text, "n10");
});

Deno.test("reduce: never changes the state it is given", () => {
  const s = run(BOOTED);
  const copy = structuredClone(s);
  run([
    { atMs: 50, supervisor: { t: "machine-exited", code: 137, signal: "SIGKILL" } },
    line(51, { t: "checkpoints", stats: [stats(4, 10)] }),
    line(52, { t: "console", thread: 7, name: "counter", off: 10, text: "counter 2\n", epoch: 4 }),
  ], s);
  assert.deepEqual(s, copy);
});

Deno.test("reduce: a cut that found nothing new counts as a pause, not as a commit on the timeline", () => {
  // The break this catches: idle machines skip most cuts, and counting them as commits pushed the
  // real commits off the timeline as repeats of one epoch.
  const unchanged = { ...stats(3, 150), commitUs: 0, unchanged: true };
  const s = run([...BOOTED, line(6, { t: "checkpoints", stats: [unchanged, unchanged] })]);
  assert.equal(s.checkpoints.committed, 3, "the three real commits only");
  assert.deepEqual(s.checkpoints.timeline.map((e) => e.epoch), [1, 2, 3]);
  assert.equal(s.checkpoints.pauseHistogram[pauseBucket(150)], 2, "their pauses are counted");
});
