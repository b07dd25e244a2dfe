/**
 * The shell's system commands (servers/apps/shell/system_commands.ts):
 * over a fake monitor, their tables, the derivation tree of `caps`, usage
 * errors and refusals; and over the network on a real machine: `ps` and a
 * refused `crash` without --shell-control; `crash fs` with it (the fs
 * restarts, the session goes on); `powerfail` (the machine exits 137, the
 * resumed one answers the same session and does not cut again).
 *
 * @module
 */

import * as assert from "node:assert/strict";
import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import type { CapReport, RecentCheckpoint, SystemReport } from "../../../kernel/abi/report.ts";
import type { MachineLine } from "../../../hw/board.ts";
import { EXIT_POWER_FAILURE } from "../../../hw/board.ts";
import { Shell } from "../../../servers/apps/shell/commands.ts";
import type { ParsedReply } from "../../../servers/apps/shell/session.ts";
import {
  columns,
  derivationOrder,
  type MonitorApi,
  SYSTEM_USAGE,
} from "../../../servers/apps/shell/system_commands.ts";
import type { FsApi } from "../../../servers/fs/vfs.ts";
import { AppMachine } from "../../../tools/app_machine.ts";
import { runLines, ShellSession } from "./_shell_session.ts";

/** A capability of the fake report. */
function cap(id: number, slot: number, parent = 0, parentSlot?: number): CapReport {
  return {
    id,
    slot,
    kind: "ENDPOINT",
    rights: ["call"],
    badge: 0,
    object: 100 + id,
    parent,
    ...(parentSlot !== undefined ? { parentGroup: 1, parentSlot } : {}),
  };
}

/** A small report: init (1) and fs (2), one connection between them. */
function fakeReport(): SystemReport {
  const thread = (id: number, name: string) => ({
    id,
    name,
    program: `servers/${name}/main.ts`,
    state: "running" as const,
    policy: "fresh" as const,
    restarts: 0,
    failuresInARow: 0,
  });
  const group = (id: number, name: string, caps: CapReport[]) => ({
    id,
    name,
    policy: "fresh" as const,
    restarts: 0,
    failures: 0,
    quotaPages: 100,
    usedPages: 10 * id,
    quotaObjects: 50,
    usedObjects: 5,
    threads: [thread(id + 10, name)],
    caps,
    capsOmitted: 0,
  });
  return {
    uptimeMs: 1500,
    atUnixMs: 0,
    epoch: 42,
    resumed: false,
    faultInjection: false,
    groups: [
      group(1, "init", [cap(1, 0), cap(2, 5, 1, 0), cap(3, 6, 2, 5), cap(4, 7)]),
      group(2, "fs", [cap(5, 2, 1, 0)]),
    ],
    ipc: {
      endpoints: [{ id: 9, serverThread: 12, serverGroup: 2, connections: 1 }],
      connections: [{
        id: 30,
        endpoint: 9,
        clientThread: 11,
        clientGroup: 1,
        serverThread: 12,
        serverGroup: 2,
        badge: 1,
        closed: false,
        requests: 7,
        responses: 6,
        requestBytes: 700,
        responseBytes: 60,
        pendingRequests: 1,
        pendingResponses: 0,
      }],
      connectionsOmitted: 0,
    },
    memory: {
      nvmPages: 1000,
      nvmFreePages: 400,
      objects: 80,
      objectsMax: 16383,
      pmos: [{ id: 50, pages: 20, owner: 2, role: "data", loaded: true }],
      pmosOmitted: 0,
    },
    checkpoints: { periodMs: 1, counters: { taken: 3, committed: 3 }, recent: [] },
  };
}

/** A monitor whose control calls are refused as a READ-only capability's are. */
class FakeMonitor implements MonitorApi {
  injected: string[] = [];
  constructor(private readonly control: boolean) {}
  report(): Promise<SystemReport> {
    return Promise.resolve(fakeReport());
  }
  checkpointNow(): Promise<RecentCheckpoint> {
    this.refuse();
    return Promise.resolve({
      epoch: 43,
      freezeUs: 1,
      capTreeUs: 0,
      objectsUs: {},
      pageCopyUs: 1,
      pauseUs: 120,
      dirtyPages: 3,
      cowPages: 1,
      scannedChunks: 1,
      objectRecords: 2,
      commitUs: 900,
    });
  }
  inject(target: string, fault: string): Promise<string> {
    this.refuse();
    this.injected.push(`${target} ${fault}`);
    return Promise.resolve(`injecting ${fault} into ${target}`);
  }
  powerCut(): Promise<number> {
    this.refuse();
    return Promise.resolve(43);
  }
  private refuse(): void {
    if (!this.control) {
      throw new TardigradeError(Err.E_NO_RIGHTS, "no CONTROL right; --shell-control gives it");
    }
  }
}

/** Runs `lines` through a shell over `monitor` as the app does (steps until no work is left). */
function run(monitor: MonitorApi, lines: string[]): Promise<ParsedReply[]> {
  return runLines(new Shell({} as FsApi, monitor), lines);
}

Deno.test("system commands: aligned tables for ps, ipc, mem; help lists each with its usage", async () => {
  const [ps, ipc, mem, help] = await run(new FakeMonitor(false), ["ps", "ipc", "mem", "help"]);
  assert.ok(ps.ok);
  assert.deepEqual(ps.lines.map((l) => l.split(/\s+/)[0]), ["GROUP", "init", "fs"]);
  const at = ps.lines[0].indexOf("STATE");
  assert.ok(ps.lines.slice(1).every((l) => l.slice(at).startsWith("running")), ps.lines.join("\n"));
  assert.ok(
    ipc.lines.some((l) => /^30\s+9\s+init#11\s+fs#12\s+open\s+1\/0\s+7\s+6\s+700\s+60$/.test(l)),
  );
  assert.match(mem.lines[0], /600 of 1000 pages used, 400 free/);
  assert.ok(
    mem.lines.some((l) => /^fs\s+2\s+20\s+100\s+5\s+50\s+1\s+20\s+1$/.test(l)),
    mem.lines.join("\n"),
  );
  for (const usage of Object.values(SYSTEM_USAGE)) assert.ok(help.lines.includes(usage), usage);
  assert.deepEqual(columns([["a", 1], ["long", 22]]), ["a     1", "long  22"]);
});

Deno.test("system commands: caps GROUP is a tree by derivation, by name or id; an unknown group is named", async () => {
  const [byName, byId, none] = await run(new FakeMonitor(false), ["caps init", "caps 2", "caps x"]);
  const kindAt = byName.lines[0].indexOf("KIND");
  const slots = byName.lines.slice(1).map((l) => l.slice(0, kindAt).trimEnd());
  assert.deepEqual(slots, ["0", "  └ 5", "    └ 6", "7"], byName.lines.join("\n"));
  assert.ok(byId.lines[1].endsWith("init:0"), "derived from another group's cap: GROUP:SLOT");
  assert.equal(none.errno, "E_NOT_FOUND");
  assert.match(none.message!, /init \(1\), fs \(2\)/);
  const order = derivationOrder([cap(2, 5, 1), cap(1, 0)]);
  assert.deepEqual(order.map((o) => [o.cap.slot, o.depth]), [[0, 0], [5, 1]]);
});

Deno.test("system commands: bad arguments get the usage; without CONTROL the kernel's refusal is the status", async () => {
  const m = new FakeMonitor(false);
  const replies = await run(m, [
    "ps x",
    "caps",
    "inject fs nonsense",
    "checkpoint later",
    "crash",
    "crash fs",
    "powerfail",
    "checkpoint now",
    "checkpoint",
  ]);
  for (const r of replies.slice(0, 5)) {
    assert.equal(r.errno, "EINVAL");
    assert.match(r.message!, /^usage: /);
  }
  for (const r of replies.slice(5, 8)) {
    assert.equal(r.errno, "E_NO_RIGHTS");
    assert.match(r.message!, /--shell-control/);
  }
  assert.ok(replies[8].ok && replies[8].lines[0].startsWith("period 1 ms, epoch 42"));
  assert.deepEqual(m.injected, []);
});

Deno.test("system commands: with CONTROL, crash injects throw, checkpoint now answers its figures", async () => {
  const m = new FakeMonitor(true);
  const [crash, inject, now, power, up, epoch] = await run(m, [
    "crash fs",
    "inject net oom",
    "checkpoint now",
    "powerfail",
    "uptime",
    "epoch",
  ]);
  assert.deepEqual(m.injected, ["fs throw", "net oom"]);
  assert.ok(crash.ok && inject.ok);
  assert.match(now.lines[0], /^checkpoint 43 committed: pause 120 us, commit 900 us, 3 pages/);
  assert.match(power.lines[0], /^power cut once checkpoint 43 commits/);
  assert.match(up.lines[0], /^up 1\.5 s since this boot, 2 cap groups, 2 threads$/);
  assert.deepEqual(epoch.lines, ["epoch 42"]);
});

// --- over the network, on a real machine ---------------------------------------------------------

/** The `ps` row of component `name`, as its columns. */
function psRow(ps: ParsedReply, name: string): Record<string, string> {
  const head = ps.lines[0].split(/\s+/);
  const row = ps.lines.find((l) => l.split(/\s+/)[0] === name);
  assert.ok(row, `ps lists ${name}:\n${ps.lines.join("\n")}`);
  const cells = row.split(/\s+/);
  return Object.fromEntries(head.map((h, i) => [h, cells[i]]));
}

Deno.test("shell without --shell-control: ps answers; crash, inject, powerfail and checkpoint now are refused, naming the flag", async () => {
  const m = await AppMachine.start("shell", { label: "shell-read", extra: ["--fault-injection"] });
  const s = await ShellSession.open(m.port);
  try {
    const ps = await s.ask("ps");
    assert.ok(ps.ok);
    assert.equal(psRow(ps, "fs").STATE, "running");
    assert.equal(psRow(ps, "shell").PROGRAM, "servers/apps/shell/main.ts");
    const caps = await s.ask("caps shell");
    assert.ok(caps.lines.some((l) => /\bMONITOR\s+read\s/.test(l)), caps.lines.join("\n"));
    for (const line of ["crash fs", "inject fs throw", "powerfail", "checkpoint now"]) {
      const r = await s.ask(line);
      assert.equal(r.errno, "E_NO_RIGHTS", `${line}: ${r.message}`);
      assert.match(r.message!, /--shell-control/);
    }
    assert.equal(psRow(await s.ask("ps"), "fs").RESTARTS, "0", "nothing was crashed");
  } finally {
    s.close();
    await m.stop();
  }
});

Deno.test("shell with --shell-control: crash fs restarts the file system and the session goes on", async () => {
  const m = await AppMachine.start("shell", {
    label: "shell-crash",
    extra: ["--shell-control", "--fault-injection"],
  });
  const s = await ShellSession.open(m.port);
  try {
    assert.ok((await s.ask("write /before kept")).ok);
    const self = await s.ask("crash shell");
    assert.equal(self.errno, "E_BAD_ARGUMENT", "the shell may not crash itself mid-step");
    assert.match(self.message!, /own component/);
    const since = m.machine.lines.length;
    const crash = await s.ask("crash fs");
    assert.ok(crash.ok, crash.message);
    assert.match(crash.lines[0], /^injecting throw into fs \(thread \d+\)$/);
    await m.machine.waitFor(
      (l: MachineLine) => l.t === "event" && l.kind === "restart" && l.component === "fs",
      30_000,
      since,
    );
    let fs: Record<string, string> = {};
    for (let i = 0; i < 200 && fs.STATE !== "running"; i++) fs = psRow(await s.ask("ps"), "fs");
    assert.equal(fs.STATE, "running");
    assert.equal(fs.RESTARTS, "1");
    assert.deepEqual(
      (await s.ask("cat /before")).lines,
      ["kept"],
      "the file system kept its files",
    );
    assert.ok((await s.ask("write /after too")).ok);
    assert.deepEqual((await s.ask("cat /after")).lines, ["too"]);
    const now = await s.ask("checkpoint now");
    assert.match(now.lines[0], /^checkpoint \d+ committed: pause \d+ us, commit \d+ us/);
  } finally {
    s.close();
    await m.stop();
  }
});

Deno.test("shell with --shell-control: powerfail exits the machine 137; the resumed machine keeps the session and does not cut again", async () => {
  const m = await AppMachine.start("shell", { label: "shell-power", extra: ["--shell-control"] });
  const s = await ShellSession.open(m.port);
  try {
    assert.ok((await s.ask("mkdir -p /p/q")).ok);
    assert.ok((await s.ask("cd /p/q")).ok);
    const denied = await s.ask("crash fs");
    assert.equal(denied.errno, "E_DENIED", "fault injection needs its own flag");
    assert.match(denied.message!, /--fault-injection/);
    await s.send("powerfail");
    const status = await m.machine.exited;
    assert.equal(status.code, EXIT_POWER_FAILURE);
    assert.ok(
      m.machine.lines.some((l) => l.t === "event" && l.kind === "power-cut"),
      "a power-cut event line",
    );
    await m.resume();
    const power = await s.reply();
    assert.ok(power.ok, power.message);
    assert.match(power.lines[0], /^power cut once checkpoint \d+ commits/);
    assert.deepEqual((await s.ask("pwd")).lines, ["/p/q"], "the session kept its directory");
    // The resumed shell does not ask again: a cut armed at the resume would come with the commit
    // that `checkpoint now` waits for, and its reply (released by a later commit) would never come.
    assert.ok((await s.ask("checkpoint now")).ok);
    assert.ok((await s.ask("ps")).ok);
    assert.ok(
      !m.machine.lines.some((l) => l.t === "event" && l.kind === "power-cut"),
      "no second power cut",
    );
  } finally {
    s.close();
    await m.stop();
  }
});
