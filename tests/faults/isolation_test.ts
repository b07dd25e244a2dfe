/**
 * Invariant 4 (isolation): a hostile application worker
 * (tests/programs/hostile.ts) tries every way in (slots it does not hold,
 * rights it lacks, stale and revoked connection capabilities, other
 * components' buffers, memory past its mappings or mapped read-only, other
 * owners' objects, garbage on the kernel channel and on its own ring) and
 * each attempt fails with a named error, while the servers keep answering and
 * the counter app keeps counting. Two more tests keep fixed kernel faults
 * that the same program found from coming back: garbage on the kernel
 * channel, and a start-up that never finishes.
 */

import assert from "node:assert/strict";
import type { MachineLine } from "../../hw/board.ts";
import { MachineProcess } from "../../tools/machine_process.ts";
import { consoleLine, removeImage, tempImage } from "../helpers.ts";

type Outcome = { ok?: unknown; err?: string };
type Tally = Record<string, number>;

/** Every attempt of `group` failed with `code` (the name of the attempt says what it tried). */
function allFail(group: Record<string, Outcome>, code: string | string[], what: string): void {
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(Object.keys(group).length > 0, `${what}: no attempts`);
  for (const [name, o] of Object.entries(group)) {
    assert.ok(
      o.err !== undefined && codes.includes(o.err),
      `${what} ${name}: expected ${codes.join(" or ")}, got ${JSON.stringify(o)}`,
    );
  }
}

/** A tally holds only `codes`, and at least `min` attempts. */
function tallyOnly(t: Tally, codes: string[], min: number, what: string): void {
  const total = Object.values(t).reduce((x, y) => x + y, 0);
  assert.ok(total >= min, `${what}: ${total} attempts, expected at least ${min}`);
  for (const key of Object.keys(t)) {
    assert.ok(codes.includes(key), `${what}: ${t[key]} × ${key} (${JSON.stringify(t)})`);
  }
}

/** The highest `counter N` printed so far. */
function lastCount(m: MachineProcess): number {
  let n = 0;
  for (const l of m.lines) {
    if (l.t !== "console" || l.name !== "counter") continue;
    for (const match of l.text.matchAll(/counter (\d+)/g)) n = Math.max(n, Number(match[1]));
  }
  return n;
}

/** Log and error lines that show a kernel panic, an E_INTERNAL or a failed worker. */
function faults(lines: MachineLine[]): string[] {
  return lines
    .filter((l) => l.t === "error" || (l.t === "log" && /E_INTERNAL|failed|panic/.test(l.text)))
    .map((l) => JSON.stringify(l));
}

Deno.test("a hostile app's every way in fails with a named error; the system keeps serving", async () => {
  const image = tempImage();
  const m = MachineProcess.start(image, [
    "--fresh",
    "--apps",
    "counter,tests/programs/owner.ts?quotaPages=64,tests/programs/hostile.ts",
  ]);
  try {
    const line = await consoleLine(m, "hostile");
    assert.ok(line.startsWith(" "), `the hostile program itself failed: ${line}`);
    const text = line.slice(1);
    assert.ok(!text.includes("E_INTERNAL"), "no attempt ends in E_INTERNAL");
    const r = JSON.parse(text);

    // Connections it was never given, or no longer holds.
    assert.deepEqual(r.conn, {
      attachWithoutCall: { err: "E_NO_RIGHTS" },
      transferWithoutGrant: { err: "E_NO_RIGHTS" },
      escalateConnection: { err: "E_NO_RIGHTS" },
      attachDeleted: { err: "E_EMPTY_SLOT" },
      spareOpenAfterCopyDeleted: { ok: 0 },
      attachRevoked: { err: "E_PEER_DIED" },
      transferRevoked: { err: "E_PEER_DIED" },
      connectRevoked: { err: "E_EMPTY_SLOT" },
      revokedRingClosed: { ok: 1 },
    });

    // Every slot-taking call on every slot number up to past the highest object id.
    const g = r.guess;
    assert.ok(g.top > g.maxObjectId, "the sweep covers every kernel object id as a slot");
    assert.deepEqual(g.successes, [], "no guessed slot or non-slot value ever worked");
    // Held slots in the swept range (the slot record, Slot.RECORD, sits far above it).
    const held = (r.held as string[]).filter((h) => Number(h.split(":")[0]) <= g.top).length;
    for (const [op, t] of Object.entries(g.unheld as Record<string, Tally>)) {
      assert.deepEqual(t, { E_EMPTY_SLOT: g.top + 1 - held }, `${op} on slots it does not hold`);
    }
    let heldAttempts = 0;
    for (const [op, t] of Object.entries(g.held as Record<string, Tally>)) {
      tallyOnly(t, ["E_WRONG_KIND", "E_NO_RIGHTS"], 0, `${op} on its own slots`);
      heldAttempts += Object.values(t).reduce((x, y) => x + y, 0);
    }
    assert.ok(heldAttempts > 100, `wrong kind or rights tried on its own slots (${heldAttempts})`);
    for (const [op, t] of Object.entries(g.notSlots as Record<string, Tally>)) {
      assert.deepEqual(t, { E_BAD_SLOT: 19 }, `${op} on values that are no slot`);
    }

    // The buffers it holds: its console, its own PMOs, one ring per connection it opened,
    // and doorbells/control words (never memory). The marker in the memory server's heap
    // is in none of them; the positive control finds it in its own PMO.
    const b = r.buffers;
    assert.equal(b.markerInHeap, true, "the marker is in the memory server's heap");
    assert.deepEqual(b.markerIn, [b.probe], "the memory server's heap is not reachable");
    assert.deepEqual(
      b.pmoIds,
      [b.console, ...b.mapped, ...b.rings].sort((x: number, y: number) => x - y),
      "it holds the buffers of no PMO but its console, its mappings and its connections",
    );
    assert.equal(new Set(b.rings).size, 5, "one ring per connection it opened");
    for (const n of b.ringBytes) assert.equal(n, b.connBytes, "a ring is a connection buffer");
    for (const n of b.loose) assert.ok(n <= 64, `a loose buffer of ${n} bytes is no doorbell`);

    // Memory past the end of a mapping, and through a read-only mapping.
    const mem = r.memory;
    const { rawIndex, rawNegativeIndex, rawPageStateIndex, rawGrow, ...pastEnd } = mem.pastEnd;
    allFail(pastEnd, ["E_BAD_ARGUMENT", "RangeError"], "write past the end:");
    for (const o of [rawIndex, rawNegativeIndex, rawPageStateIndex]) {
      assert.deepEqual(o, { ok: "no-op" });
    }
    assert.deepEqual(rawGrow, { err: "TypeError" }, "a mapping cannot be grown");
    assert.equal(mem.aBytes, 4096);
    assert.equal(mem.otherPmoIntact, true, "no write past the end landed in another PMO");
    allFail(mem.readOnly, "E_NO_RIGHTS", "write through a read-only mapping:");
    assert.equal(mem.readOnlyUnchanged, true);
    // docs/ARCHITECTURE.md, trust model: raw typed-array writes to a shared buffer are not stopped.
    assert.equal(mem.readOnlyRawWrite, "lands in that PMO only");
    assert.equal(mem.otherPmoIntactAfterRaw, true);

    // Other owners' objects at the memory server (tests/programs/owner.ts's object).
    const f = r.foreign;
    allFail(
      { read: f.read, write: f.write, free: f.free, deleteName: f.deleteName },
      "E_NOT_OWNER",
      "another owner's object:",
    );
    tallyOnly(f.guessedReads, ["E_NOT_FOUND", "E_NOT_OWNER"], 150, "guessed object ids");
    assert.ok(f.guessedReads.E_NOT_OWNER >= 1, "some guessed ids named other owners' objects");
    assert.equal(f.fileIntact, "not yours");

    // Garbage on the kernel channel and on its own ring.
    const { channelStillAnswers, ...garbage } = r.garbage;
    const expected: Record<string, string> = {
      hugeArgCount: "E_BAD_SLOT",
      argsString: "E_NOT_SUPPORTED",
      argsObject: "E_NOT_SUPPORTED",
      argsMissing: "E_NOT_SUPPORTED",
      argsNull: "E_NOT_SUPPORTED",
      opNumber: "E_NOT_SUPPORTED",
      opArray: "E_NOT_SUPPORTED",
      opNull: "E_NOT_SUPPORTED",
    };
    for (const [name, o] of Object.entries(garbage as Record<string, Outcome>)) {
      const code = expected[name] ??
        (name.startsWith("op ") ? "E_NOT_SUPPORTED" : "E_BAD_ARGUMENT");
      assert.deepEqual(o, { err: code }, `garbage ${name}`);
    }
    assert.equal(Object.keys(garbage).length, 33);
    assert.ok(typeof channelStillAnswers.ok === "number", "the kernel answers after the garbage");
    assert.deepEqual(r.ringGarbage, { err: "E_BAD_MESSAGE" });

    // Everything still serves; no server was restarted (not even by a forged worker-failed).
    assert.deepEqual(r.serving, {
      memoryStatus: { ok: { name: "memory", resumed: false } },
      memoryEcho: { ok: "still here" },
      fsStatus: { ok: { name: "fs", resumed: false } },
      fsEcho: { ok: "still here" },
      netStatus: { ok: { name: "net", resumed: false } },
      netEcho: { ok: "still here" },
      memoryAlloc: { ok: [1, 2, 3] },
      fsRead: { ok: "not yours" },
      pmoCreate: { ok: "PMO" },
    });

    // The counter keeps counting after all of it.
    const before = lastCount(m);
    await m.waitFor(() => lastCount(m) > before);
    assert.deepEqual(faults(m.lines), [], "no panic, E_INTERNAL or failed worker");
    assert.equal((await m.shutdown()).code, 0);
  } finally {
    await m.kill();
    removeImage(image);
  }
});

// Found by this program: the kernel once turned the op and a log line's text into strings
// (String(req.op), `${msg.text}`) outside its try, and a cloned `{ toString: 1 }` threw there.
Deno.test({
  name: "garbage a worker can send on its kernel channel never crashes the kernel",
  fn: async () => {
    const image = tempImage();
    const m = MachineProcess.start(image, [
      "--fresh",
      "--apps",
      "counter,tests/programs/hostile.ts?crash=1",
    ]);
    try {
      const r = JSON.parse(await consoleLine(m, "hostile-crash "));
      assert.deepEqual(r.objectOp, { err: "E_NOT_SUPPORTED" });
      assert.deepEqual(r.bigintOp, { err: "E_NOT_SUPPORTED" });
      assert.ok(typeof r.channelStillAnswers.ok === "number");
      const before = lastCount(m);
      await m.waitFor(() => lastCount(m) > before);
      assert.deepEqual(faults(m.lines), []);
      assert.equal((await m.shutdown()).code, 0);
    } finally {
      await m.kill();
      removeImage(image);
    }
  },
});

// Found by this program: no checkpoint is taken before every thread reached its first safe
// point, so a start-up that never finished held back everyone's output. The watchdog now stops
// a thread that is not ready within its start budget (at least 5 s; policy none: it stays down).
Deno.test({
  name: "an app whose start-up never finishes does not hold back everyone's checkpoints",
  fn: async () => {
    const image = tempImage();
    const m = MachineProcess.start(image, [
      "--fresh",
      "--handler-budget-ms",
      "250",
      "--policy",
      "hostile=none",
      "--apps",
      "counter,tests/programs/hostile.ts?stall=1",
    ]);
    try {
      await m.waitFor(() => lastCount(m) >= 3);
      const stopped = m.lines.find((l) =>
        l.t === "log" && /not ready \(first safe point\)/.test(l.text)
      );
      assert.ok(stopped, "the watchdog stopped the stalled start-up");
      assert.equal((await m.shutdown()).code, 0);
    } finally {
      await m.kill();
      removeImage(image);
    }
  },
});
