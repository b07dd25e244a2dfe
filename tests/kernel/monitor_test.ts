/**
 * The system monitor through a real machine: the report (`--report-ms`)
 * holds the cap groups and threads init started, their capabilities with
 * the derivation tree, the connections with their traffic, memory and
 * checkpoints; a fault injected shows as `crash` and `restart` events and
 * one more restart in the next report; a program without the monitor
 * capability gets a named error from every monitor call
 * (tests/programs/monitor_probe.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { MachineLine } from "../../hw/board.ts";
import type { GroupReport, SystemReport } from "../../kernel/abi/report.ts";
import { INIT_MONITOR_SLOT } from "../../kernel/abi/slots.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { removeImage, tempImage } from "../helpers.ts";

type ReportLine = Extract<MachineLine, { t: "report" }>;
type EventLine = Extract<MachineLine, { t: "event" }>;

/** The first report line after line `since` for which `pred` holds. */
async function reportWhere(
  m: MachineProcess,
  pred: (r: SystemReport) => boolean,
  since = 0,
): Promise<SystemReport> {
  const line = await m.waitFor(
    (l): l is ReportLine => l.t === "report" && pred(l.report),
    60_000,
    since,
  );
  return line.report;
}

/** The group named `name` (fails the test when the report has none). */
function group(r: SystemReport, name: string): GroupReport {
  const g = r.groups.find((g) => g.name === name);
  assert.ok(g, `a cap group "${name}" in ${r.groups.map((g) => g.name).join(", ")}`);
  return g;
}

/** The probe's `monitorprobe {json}` line, however long ago it came. */
async function probeLine(m: MachineProcess): Promise<string> {
  const prefix = "monitorprobe ";
  const find = (l: MachineLine) =>
    l.t === "console" ? l.text.split("\n").find((t) => t.startsWith(prefix)) : undefined;
  const line = await m.waitFor((l) => find(l) !== undefined);
  return find(line)!.slice(prefix.length);
}

const STARTED = ["init", "memory", "fs", "net", "counter", "monitor_probe"];

Deno.test("monitor: the report holds what init started; an injected crash is an event and one more restart", async () => {
  const image = tempImage("monitor");
  const m = MachineProcess.start(image, [
    "--fresh",
    "--apps",
    "counter,tests/programs/monitor_probe.ts",
    "--fault-injection",
    "--report-ms",
    "50",
  ]);
  try {
    await m.ready();
    const r = await reportWhere(m, (r) =>
      r.checkpoints.recent.length > 0 &&
      STARTED.every((n) =>
        r.groups.some((g) => g.name === n && g.threads[0]?.state === "running")
      ));
    for (const name of STARTED) {
      const g = group(r, name);
      assert.equal(g.threads.length, 1, `${name} has its one thread`);
      assert.equal(g.threads[0].restarts, 0, `${name} never restarted`);
      assert.ok(g.usedPages > 0 && g.usedPages <= g.quotaPages, `${name} pages within quota`);
      assert.ok(g.usedObjects <= g.quotaObjects, `${name} objects within quota`);
    }
    assert.equal(group(r, "fs").threads[0].program, "servers/fs/main.ts");
    assert.equal(group(r, "fs").policy, "fresh");
    assert.equal(group(r, "init").policy, "none");

    // Capabilities: init's original monitor, and the derivation tree across groups.
    const init = group(r, "init");
    const monitor = init.caps.find((c) => c.slot === INIT_MONITOR_SLOT);
    assert.equal(monitor?.kind, "MONITOR");
    assert.equal(monitor?.parent, 0, "the monitor capability is an original");
    assert.deepEqual(monitor?.rights, ["read", "write", "grant", "call", "receive", "send"]);
    const fsEndpoint = group(r, "fs").caps.find((c) => c.kind === "ENDPOINT");
    assert.ok(fsEndpoint, "fs holds its endpoint");
    assert.equal(fsEndpoint.parentGroup, init.id, "derived from init's endpoint capability");
    assert.ok(fsEndpoint.rights.includes("receive"));
    for (const name of STARTED.slice(1)) {
      assert.ok(
        !group(r, name).caps.some((c) => c.kind === "MONITOR"),
        `${name} holds no monitor capability (init gives it to the shell only)`,
      );
    }

    // IPC: init called each server (STATUS and ECHO) over its own connection.
    const fs = group(r, "fs");
    const initToFs = r.ipc.connections.find((c) =>
      c.clientGroup === init.id && c.serverGroup === fs.id
    );
    assert.ok(initToFs, "init's connection to fs is listed");
    assert.ok((initToFs.requests ?? 0) >= 2 && (initToFs.responses ?? 0) >= 2);
    assert.ok((initToFs.requestBytes ?? 0) >= "hello fs".length, "the echo's bytes are counted");
    assert.equal(initToFs.pendingRequests, 0);
    const fsEp = r.ipc.endpoints.find((e) => e.serverGroup === fs.id);
    assert.ok(fsEp && fsEp.connections >= 1, "fs's endpoint has its connections");

    // Memory and checkpoints.
    assert.ok(r.memory.nvmFreePages < r.memory.nvmPages);
    assert.ok(r.memory.pmos.some((p) => p.owner === fs.id && p.role === "data"));
    assert.ok(r.checkpoints.periodMs > 0);
    assert.ok(r.checkpoints.recent.length > 0, "recent checkpoints are listed");
    const last = r.checkpoints.recent.at(-1)!;
    assert.ok(last.epoch <= r.epoch && typeof last.commitUs === "number");

    // A program without the monitor capability: named errors, nothing else.
    const probe = JSON.parse(await probeLine(m)) as Record<
      string,
      { ok?: unknown; err?: string }
    >;
    for (const [call, outcome] of Object.entries(probe)) {
      assert.equal(outcome.ok, undefined, `${call} must fail: ${JSON.stringify(outcome)}`);
    }
    for (const [call, outcome] of Object.entries(probe).filter(([k]) => k.startsWith("report@"))) {
      assert.equal(outcome.err, "E_WRONG_KIND", call);
    }
    for (const call of ["report", "checkpointNow", "inject", "powerCut"]) {
      assert.equal(probe[call].err, "E_EMPTY_SLOT", call);
    }
    assert.equal(probe.injectOverGroup.err, "E_WRONG_KIND");
    assert.match(probe.initsSlot.err ?? "", /^E_(EMPTY_SLOT|WRONG_KIND)$/);

    // A crash injected: events, then a report with one more restart.
    const since = m.lines.length;
    await m.inject("counter", "throw", 7);
    const counterId = group(r, "counter").threads[0].id;
    const isEvent = (kind: string) => (l: MachineLine): l is EventLine =>
      l.t === "event" && l.kind === kind && l.component === "counter";
    const injected = await m.waitFor(isEvent("inject"), 30_000, since);
    assert.equal(injected.thread, counterId);
    const crash = await m.waitFor(isEvent("crash"), 30_000, since);
    assert.match(crash.text, /injected fault: throw/);
    assert.equal(crash.thread, counterId);
    assert.ok(crash.epoch >= r.epoch, "events carry the committed epoch");
    const restart = await m.waitFor(isEvent("restart"), 30_000, since);
    assert.match(restart.text, /policy fresh/);
    const after = await reportWhere(m, (r) => {
      const t = r.groups.find((g) => g.name === "counter")?.threads[0];
      return t?.state === "running" && t.restarts === 1;
    }, since);
    const counter = group(after, "counter");
    assert.equal(counter.restarts, 1);
    assert.equal(counter.failures, 1);
    assert.equal(group(after, "fs").restarts, 0, "nobody else restarted");
    // The kernel's log lines stay beside the events.
    assert.ok(
      m.lines.slice(since).some((l) => l.t === "log" && /restarting thread/.test(l.text)),
      "the supervisor still logs",
    );
  } finally {
    await m.kill();
    removeImage(image);
  }
});
