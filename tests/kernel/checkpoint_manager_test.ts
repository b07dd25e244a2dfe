/**
 * The checkpoint manager on its own, with a stand-in for the kernel: one
 * capture in flight at a time (a second would reuse its epoch), the page
 * scan four states at a time including a PMO's last, odd pages, the hybrid
 * method's hot and cold pages, a freeze that waits for a step in flight
 * (answering its system calls meanwhile), a capture that throws, the
 * debug barrier across a recycled PMO id, and group commit (output waiting
 * starts a checkpoint at once, and the next when the one in flight commits).
 */

import assert from "node:assert/strict";
import {
  CONTROL_BLOCK_BYTES,
  ControlWord,
  FreezeLine,
  type PmoBuffers,
  RunState,
} from "../../kernel/abi/layout.ts";
import { CHECKPOINT_FAILURES_MAX, PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { Err } from "../../kernel/abi/errors.ts";
import type { CopyMethod, KernelToBoard } from "../../kernel/abi/protocol.ts";
import { CheckpointManager } from "../../kernel/checkpoint.ts";
import type { CheckpointHost, FrozenThread } from "../../kernel/services.ts";
import { ObjectTable } from "../../kernel/object_table.ts";
import { KERNEL_PMO_PAGES } from "../../kernel/abi/image_root.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";

/** A PMO of 6 pages (one whole word of page states, then two pages of tail) at NVM page 5000. */
const PMO = { id: 40, nvmBase: 5000, pages: 6 };

function standIn(method: CopyMethod, debugBarrier = false, groupCommit = true) {
  const posted: Array<Extract<KernelToBoard, { t: "commit" }>> = [];
  const logs: string[] = [];
  const panics: string[] = [];
  const kernelPmo = allocatePmoBuffers(0, KERNEL_PMO_PAGES);
  let pmo = allocatePmoBuffers(PMO.id, PMO.pages);
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_BLOCK_BYTES));
  Atomics.store(control, ControlWord.RUN_STATE, RunState.WAITING); // frozen without being woken
  const thread: FrozenThread = { dead: false, control, rec: { id: 7, consolePmo: 0 } };
  const kernel = {
    config: {
      checkpointMs: 1,
      groupCommit,
      copyMethod: method,
      digest: false,
      debugBarrier,
      nvmPages: 8192,
    },
    threads: new Map([[7, thread]]),
    table: new ObjectTable(),
    kernelPmo,
    kernelMemory: new PersistentMemory(kernelPmo),
    pmos: {
      loaded: () => [[{ id: PMO.id, nvmBase: PMO.nvmBase }, pmo] as const],
      loadedBuffers: () => undefined,
    },
    post: (m: KernelToBoard) => {
      if (m.t === "commit") posted.push(m);
    },
    log: (text: string) => logs.push(text),
    panic: (code: number, text: string) => panics.push(`${code} ${text}`),
    allReady: () => true,
    nic: { head: () => nicHead, table: () => undefined },
    consoleIn: { lines: () => undefined },
  } satisfies CheckpointHost;
  /** The NIC transmit ring's HEAD the stand-in reports (the driver "wrote" up to it). */
  let nicHead: number | undefined = undefined;
  const transmit = (head: number) => nicHead = head;
  let state = new Uint8Array(pmo.pageState);
  /** Rewrites the first byte of each page through the barrier (page state, then dirty summary). */
  const dirty = (...pages: number[]) => {
    const mem = new PersistentMemory(pmo);
    for (const p of pages) mem.setU8(p * PAGE_BYTES, mem.bytes[p * PAGE_BYTES]);
  };
  /** The PMO is destroyed and another made with its id (ids are recycled): `next` is its buffers. */
  const recycle = (next: PmoBuffers) => {
    pmo = next;
    state = new Uint8Array(pmo.pageState);
  };
  const manager = new CheckpointManager(kernel, 5);
  return {
    manager,
    kernel,
    control,
    posted,
    dirty,
    state,
    logs,
    panics,
    recycle,
    transmit,
    pmo: () => pmo,
  };
}

Deno.test("checkpoint manager: no second capture while one is in flight; the next takes the next epoch", async () => {
  const { manager, posted, dirty } = standIn("hybrid");
  dirty(1);
  assert.equal((await manager.take())?.epoch, 6);
  assert.equal(
    await manager.take(),
    null,
    "a capture while epoch 6 is in flight would reuse epoch 6",
  );
  manager.onTick(1e9);
  assert.equal(posted.length, 1, "a tick does not start one either");
  manager.onCommitted(6);
  assert.equal(manager.committedEpoch, 6);
  dirty(2);
  assert.equal((await manager.take())?.epoch, 7);
  assert.deepEqual(posted.map((c) => c.epoch), [6, 7]);
});

Deno.test("checkpoint manager: dirty pages in the tail of a PMO are captured, at their NVM pages", async () => {
  const { manager, posted, dirty, state } = standIn("stop-and-copy");
  dirty(1, 4, 5); // page 1 in the first word of states, 4 and 5 past it
  const stats = (await manager.take())!;
  assert.equal(stats.dirtyPages, 3);
  assert.deepEqual([...posted[0].nvmPages], [5001, 5004, 5005]);
  assert.deepEqual([...state], [0, 0, 0, 0, 0, 0], "stop-and-copy leaves every page clean");
});

Deno.test("checkpoint manager: hybrid copies a page dirty twice in a row in the pause, others after", async () => {
  const { manager, dirty } = standIn("hybrid");
  const round = async (epoch: number, ...pages: number[]) => {
    dirty(...pages);
    const stats = (await manager.take())!;
    manager.onCommitted(epoch);
    return { dirty: stats.dirtyPages, cow: stats.cowPages };
  };
  assert.deepEqual(await round(6, 1, 5), { dirty: 2, cow: 2 }, "first time: both cold");
  assert.deepEqual(await round(7, 1, 5), { dirty: 2, cow: 0 }, "dirty again: both hot");
  assert.deepEqual(await round(8, 5), { dirty: 1, cow: 0 }, "page 5 stays hot; page 1 was clean");
  assert.deepEqual(await round(9, 1, 5), { dirty: 2, cow: 1 }, "page 1 is cold again, page 5 hot");
});

Deno.test("checkpoint manager: the freeze waits for a step in flight and answers its system calls meanwhile", async () => {
  const { manager, control, dirty } = standIn("hybrid");
  dirty(1);
  // A worker in the middle of a step, blocked on a system call: it parks only once the
  // call is answered, which here stands for a timer the kernel's event loop must run.
  Atomics.store(control, ControlWord.RUN_STATE, RunState.RUNNING);
  Atomics.store(control, ControlWord.SYSCALLS_PENDING, 1);
  let lineWhileStepping = -1;
  setTimeout(() => {
    lineWhileStepping = Atomics.load(control, ControlWord.FREEZE);
    Atomics.store(control, ControlWord.SYSCALLS_PENDING, 0);
    Atomics.add(control, ControlWord.WAKE_SEQ, 1);
    Atomics.store(control, ControlWord.RUN_STATE, RunState.PARKED);
  }, 2);
  const stats = await manager.take();
  assert.equal(lineWhileStepping, FreezeLine.DRAIN, "the step ran on under DRAIN");
  assert.equal(stats?.epoch, 6, "the checkpoint was taken once the step ended");
  assert.equal(Atomics.load(control, ControlWord.FREEZE), FreezeLine.OFF, "thawed");
});

Deno.test("checkpoint manager: a capture that throws thaws every worker, is reported, and the next one works", async () => {
  const { manager, kernel, control, dirty, logs, panics } = standIn("hybrid");
  const flush = kernel.table.flush.bind(kernel.table);
  kernel.table.flush = () => {
    throw new Error("kernel memory unreadable");
  };
  dirty(1);
  assert.equal(await manager.take(), null);
  assert.equal(Atomics.load(control, ControlWord.FREEZE), FreezeLine.OFF, "no worker left frozen");
  assert.equal(manager.counters.failed, 1);
  assert.ok(logs.some((l) => /E_CHECKPOINT_FAILED.*kernel memory unreadable/.test(l)), "reported");
  assert.deepEqual(panics, [], "one failure does not halt");
  kernel.table.flush = flush;
  assert.equal((await manager.take())?.epoch, 6, "the next checkpoint takes the epoch that failed");
});

Deno.test("checkpoint manager: captures that keep throwing halt the kernel with E_CHECKPOINT_FAILED", async () => {
  const { manager, kernel, panics } = standIn("hybrid");
  kernel.table.flush = () => {
    throw new Error("disk on fire");
  };
  for (let i = 1; i < CHECKPOINT_FAILURES_MAX; i++) await manager.take();
  assert.deepEqual(panics, [], `${CHECKPOINT_FAILURES_MAX - 1} failures do not halt`);
  await manager.take();
  assert.equal(panics.length, 1);
  assert.match(panics[0], new RegExp(`^${Err.E_CHECKPOINT_FAILED} .*disk on fire`));
});

Deno.test("checkpoint manager: the debug barrier never compares a recycled PMO id with the old PMO's bytes", async () => {
  const { manager, dirty, recycle, pmo } = standIn("stop-and-copy", true);
  new PersistentMemory(pmo()).fill(0, PMO.pages * PAGE_BYTES, 0xaa);
  await manager.take();
  manager.onCommitted(6);
  // The PMO is destroyed; one made with its id holds other bytes, its pages CLEAN as a PMO
  // restored from the image is (the kernel marks a fresh one all DIRTY: this must not rely on it).
  const next = allocatePmoBuffers(PMO.id, PMO.pages);
  new Uint8Array(next.data).fill(0x55);
  recycle(next);
  await manager.take();
  manager.onCommitted(7);
  assert.equal(manager.counters.barrierViolations, 0, "the new PMO was checked against the old");
  // The new PMO's own checkpointed bytes are its shadow: a write that skips the barrier is seen.
  new Uint8Array(next.data)[2 * PAGE_BYTES + 9] = 1;
  dirty(4); // and one through the barrier's page state is not
  new Uint8Array(next.data)[4 * PAGE_BYTES] = 1;
  await manager.take();
  assert.equal(manager.counters.barrierViolations, 1, "page 2 changed without the barrier");
});

/** Lets every pending continuation run (a checkpoint the manager started completes its cut). */
const settled = () => new Promise((r) => setTimeout(r, 0));

Deno.test("checkpoint manager: output waiting starts a checkpoint at once, and the next as soon as the commit lands", async () => {
  const { manager, posted, transmit } = standIn("hybrid");
  transmit(100);
  manager.onOutput();
  await settled();
  assert.deepEqual(posted.map((c) => [c.epoch, c.nicTxHead]), [[6, 100]], "no tick needed");
  transmit(200);
  manager.onOutput();
  await settled();
  assert.equal(posted.length, 1, "one capture in flight at a time: the reply waits");
  manager.onCommitted(6);
  await settled();
  assert.deepEqual(
    posted.map((c) => [c.epoch, c.nicTxHead]),
    [[6, 100], [7, 200]],
    "the commit starts the next checkpoint for the output that waited",
  );
  manager.onCommitted(7);
  manager.onOutput();
  await settled();
  assert.equal(posted.length, 2, "nothing new past the cut: no checkpoint");
});

Deno.test("checkpoint manager: with group commit off, output waits for the period", async () => {
  const { manager, posted, transmit } = standIn("hybrid", false, false);
  transmit(100);
  manager.onOutput();
  manager.onTick(0.2);
  await settled();
  assert.equal(posted.length, 0);
  manager.onTick(1);
  await settled();
  assert.deepEqual(posted.map((c) => c.nicTxHead), [100], "the period's checkpoint carries it");
});

Deno.test("checkpoint manager: with group commit, the period's checkpoint waits while a step is in flight, 8 periods at most", async () => {
  const { manager, posted, control, dirty } = standIn("hybrid");
  dirty(1); // something to commit (a cut that finds nothing new is not committed)
  Atomics.store(control, ControlWord.IN_STEP, 1);
  manager.onTick(1);
  manager.onTick(2);
  await settled();
  assert.equal(posted.length, 0, "a worker is in a step: its freeze would hold the others parked");
  Atomics.store(control, ControlWord.IN_STEP, 0);
  manager.onTick(3);
  await settled();
  assert.equal(posted.length, 1, "taken at the first tick between steps");
  manager.onCommitted(6);
  dirty(2);
  Atomics.store(control, ControlWord.IN_STEP, 1);
  for (let ms = 4; ms < 11; ms++) manager.onTick(ms);
  await settled();
  assert.equal(posted.length, 1, "deferred for up to 8 periods");
  manager.onTick(11);
  await settled();
  assert.equal(posted.length, 2, "after 8 periods the period's checkpoint is taken anyway");
});

Deno.test("checkpoint manager: output waiting does not wait for a step in flight", async () => {
  const { manager, posted, control, transmit } = standIn("hybrid");
  Atomics.store(control, ControlWord.IN_STEP, 1);
  transmit(100);
  manager.onTick(1);
  await settled();
  assert.deepEqual(posted.map((c) => c.nicTxHead), [100], "the output's checkpoint starts");
});

Deno.test("checkpoint manager: checkpoint_wait is answered by the commit of a checkpoint cut after the call, which starts at once", async () => {
  const { manager, posted, dirty } = standIn("hybrid", false, false);
  dirty(1);
  assert.equal((await manager.take())?.epoch, 6, "epoch 6 is cut before the call");
  let answered: number | undefined;
  manager.waitCovering().then((epoch) => answered = epoch);
  dirty(2); // a write after the call: the covering checkpoint has something to commit
  manager.onCommitted(6);
  await settled();
  assert.equal(answered, undefined, "epoch 6 was cut before the call: it does not cover it");
  assert.deepEqual(
    posted.map((c) => c.epoch),
    [6, 7],
    "the covering checkpoint starts once 6 commits, without output or the period (group commit off)",
  );
  manager.onCommitted(7);
  await settled();
  assert.equal(answered, 7, "answered by the commit of epoch 7");
  dirty(3);
  manager.waitCovering().then((epoch) => answered = epoch);
  await settled();
  assert.equal(posted.length, 3, "with nothing in flight, a call starts its checkpoint at once");
  assert.equal(answered, 7, "and is not answered before that checkpoint commits");
  manager.onCommitted(8);
  await settled();
  assert.equal(answered, 8);
});

Deno.test("checkpoint manager: with checkpoints off, checkpoint_wait answers at once with the last commit", async () => {
  const { manager, posted } = standIn("hybrid");
  manager.setPeriod(0);
  assert.equal(await manager.waitCovering(), 5);
  assert.equal(posted.length, 0);
});

Deno.test("checkpoint manager: a cut that finds nothing new is not written or committed; checkpoint_wait gets the committed epoch", async () => {
  const { manager, posted, dirty, kernel } = standIn("hybrid", false, false);
  const boardSaw: string[] = [];
  const post = kernel.post;
  kernel.post = (m) => {
    boardSaw.push(m.t);
    post(m);
  };
  dirty(1);
  assert.equal((await manager.take())?.epoch, 6);
  manager.onCommitted(6);
  const same = (await manager.take())!;
  assert.deepEqual([same.epoch, same.unchanged, same.dirtyPages], [6, true, 0]);
  assert.deepEqual(posted.map((c) => c.epoch), [6], "no commit for the unchanged cut");
  assert.deepEqual(boardSaw, ["commit", "unchanged"], "only its statistics go to the board");
  assert.equal(manager.counters.unchanged, 1);
  assert.equal(manager.committedEpoch, 6);
  let answered: number | undefined;
  manager.waitCovering().then((epoch) => answered = epoch);
  await settled();
  assert.equal(answered, 6, "the cut it started equals epoch 6: answered with it, at once");
  assert.deepEqual(posted.map((c) => c.epoch), [6]);
  dirty(2);
  assert.equal((await manager.take())?.epoch, 7, "the next change takes the next epoch");
  assert.deepEqual(posted.map((c) => [c.epoch, [...c.nvmPages]]), [[6, [5001]], [7, [5002]]]);
});

Deno.test("checkpoint manager: output after an unchanged cut goes in the next commit, with its heads", async () => {
  const { manager, posted, transmit } = standIn("hybrid");
  transmit(100);
  manager.onOutput();
  await settled();
  manager.onCommitted(6);
  assert.equal((await manager.take())?.unchanged, true, "nothing since epoch 6");
  transmit(200); // a head that moved counts even with no page dirty
  manager.onOutput();
  await settled();
  assert.deepEqual(posted.map((c) => [c.epoch, c.nicTxHead]), [[6, 100], [7, 200]]);
});

Deno.test("checkpoint manager: a cut is unchanged only against a committed one (not after a failed cut)", async () => {
  const { manager, posted, kernel, dirty } = standIn("hybrid");
  dirty(1);
  assert.equal((await manager.take())?.epoch, 6);
  manager.onCommitted(6);
  const table = kernel.nic.table;
  kernel.nic.table = () => {
    throw new Error("NIC table unreadable");
  };
  dirty(2);
  assert.equal(await manager.take(), null, "the cut failed after its page scan");
  kernel.nic.table = table;
  const next = (await manager.take())!;
  assert.equal(next.unchanged, undefined, "no page dirty now, but the last cut never committed");
  assert.deepEqual(posted.map((c) => c.epoch), [6, 7]);
});

Deno.test("checkpoint manager: an explicit request commits a checkpoint of its own even when nothing changed", async () => {
  // The break this catches: checkpoint_now on an idle machine answered with the figures of an
  // older checkpoint as if it had just been taken.
  const { manager, posted, dirty } = standIn("hybrid", false, false);
  dirty(1);
  assert.equal((await manager.take())?.epoch, 6);
  manager.onCommitted(6);
  let answered: number | undefined;
  manager.waitCovering(true).then((epoch) => answered = epoch);
  await settled();
  assert.deepEqual(posted.map((c) => c.epoch), [6, 7], "a commit for the request");
  manager.onCommitted(7);
  await settled();
  assert.equal(answered, 7);
});

Deno.test("checkpoint manager: turning checkpoints off answers the checkpoint_wait callers still waiting", async () => {
  // The break this catches: a caller waiting when checkpoint-ms 0 came parked until they came back.
  const { manager, dirty } = standIn("hybrid", false, false);
  dirty(1);
  assert.equal((await manager.take())?.epoch, 6);
  let answered: number | undefined;
  manager.waitCovering().then((epoch) => answered = epoch);
  await settled();
  manager.setPeriod(0);
  await settled();
  assert.equal(answered, 5, "the last committed epoch, as a call made now would get");
});
