/**
 * Decode, then invoke: every system call that creates something, driven
 * into each way it can fail, leaves every cap group's usage as it was
 * (objects charged and quota, pages used and quota, filled slots), and the
 * object table, the PMOs and free NVM too. The calls run on the kernel
 * services built in this thread from a real object table, capability spaces
 * and PMO manager (no workers: a successful thread_create only records its
 * spawn).
 *
 * For each resource the test starts with none spare and adds one at a time
 * until the call succeeds: every failure on the way (a call that could make
 * some of its records but not all) must have changed nothing.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { CAP_SLOTS_MAX, CLIENT_CONNECTIONS_MAX, RECORDS_MAX } from "../../kernel/abi/limits.ts";
import type { KernelConfig, SyscallOp } from "../../kernel/abi/protocol.ts";
import { Right, RIGHTS_ALL } from "../../kernel/abi/rights.ts";
import { CapSpaces } from "../../kernel/cspace.ts";
import { NvmExtents, PmoManager } from "../../kernel/memory.ts";
import { ObjectTable } from "../../kernel/object_table.ts";
import { KERNEL_PMO_PAGES } from "../../kernel/abi/image_root.ts";
import { createCapGroup } from "../../kernel/objects/cap_group.ts";
import { ObjKind, type PmoRecord, type ThreadRecord } from "../../kernel/objects/records.ts";
import type { KernelServices } from "../../kernel/services.ts";
import { SYSCALLS } from "../../kernel/syscalls.ts";
import type { LiveThread } from "../../kernel/threads.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";

/** NVM pages past the kernel's: enough for everything here, few enough to fill. */
const NVM_SPARE_PAGES = 1200;
const PROGRAM = "tests/programs/captest.ts";

const CONFIG: KernelConfig = {
  checkpointMs: 0,
  groupCommit: true,
  copyMethod: "hybrid",
  nvmPages: KERNEL_PMO_PAGES + NVM_SPARE_PAGES,
  apps: [],
  debugBarrier: false,
  digest: false,
  faultInjection: false,
  shellControl: false,
  reportMs: 0,
  handlerBudgetMs: 2000,
  policies: {},
  consoleStart: 0,
};

/**
 * The kernel services a system call sees, made of a real object table,
 * capability spaces and PMO manager; starting a thread only records it.
 */
function services(spawned: ThreadRecord[]): KernelServices {
  const table = new ObjectTable();
  const nvm = new NvmExtents(KERNEL_PMO_PAGES, CONFIG.nvmPages);
  const unused = (what: string) => () => assert.fail(`a creating call used ${what}`);
  return {
    config: CONFIG,
    table,
    caps: new CapSpaces(table),
    pmos: new PmoManager(table, nvm, () => Promise.resolve()),
    nic: { registerOf: () => undefined, isTransmit: () => false },
    onOutput: unused("onOutput"),
    threads: new Map(),
    checkpoints: {
      committedEpoch: 0,
      period: 1,
      nextCaptureEpoch: 1,
      committed: unused("checkpoints.committed"),
      counters: {
        taken: 0,
        committed: 0,
        skippedBusy: 0,
        skippedFreeze: 0,
        unchanged: 0,
        failed: 0,
        barrierViolations: 0,
      },
      hold: unused("checkpoints.hold"),
      release: unused("checkpoints.release"),
      idle: unused("checkpoints.idle"),
      info: unused("checkpoints.info"),
      waitCovering: unused("checkpoints.waitCovering"),
    },
    postEvent: () => {},
    wake: () => {},
    isDormant: () => false,
    doorbellOf: () => new SharedArrayBuffer(8),
    spawn: (rec) => {
      spawned.push(rec);
      return Promise.resolve();
    },
    onThreadReady: () => {},
    post: () => {},
    log: () => {},
    panic: unused("panic"),
    event: () => {},
    report: unused("report"),
    inject: unused("inject"),
  };
}

/** Kernel services with one cap group "app" (slot 0: itself) and a thread record calling from it. */
class Machine {
  /** Threads a successful thread_create started. */
  readonly spawned: ThreadRecord[] = [];
  readonly k = services(this.spawned);
  /** The kernel memory object, where `flush` writes records (a removed record's id is free once flushed). */
  readonly kernelMemory = new PersistentMemory(allocatePmoBuffers(0, KERNEL_PMO_PAGES));
  readonly g = createCapGroup(this.k, "app", 1000, 12_000, 0);
  readonly caller: LiveThread;

  constructor() {
    this.k.caps.insertOriginal(this.g, this.g, RIGHTS_ALL, 0);
    const rec = this.k.table.create(ObjKind.THREAD, {
      group: this.g,
      program: PROGRAM,
      args: {},
      policy: "none",
      consolePmo: 0,
      restarts: 0,
    }, this.g);
    this.caller = { rec, dead: false } as unknown as LiveThread;
  }

  /** Runs system call `op` as the caller thread. */
  async call(op: SyscallOp, ...args: unknown[]): Promise<unknown> {
    return await SYSCALLS[op](this.k, this.caller, args);
  }

  /** Calls `op` and returns its error code; fails if it succeeds or throws something unnamed. */
  async refused(op: SyscallOp, args: unknown[]): Promise<Err> {
    try {
      await this.call(op, ...args);
    } catch (e) {
      assert.ok(e instanceof TardigradeError, `${op}: ${e}`);
      return e.code;
    }
    assert.fail(`${op}(${JSON.stringify(args)}) succeeded`);
  }

  /** Every cap group's usage, and the kernel's. */
  usage(): unknown {
    const groups = [...this.k.table.ofKind(ObjKind.CAP_GROUP)].map((r) => ({
      group: r.name,
      usedObjects: r.usedObjects,
      quotaObjects: r.quotaObjects,
      usedPages: r.usedPages,
      quotaPages: r.quotaPages,
      slots: this.k.caps.list(r.id).length,
    }));
    return {
      groups,
      records: this.k.table.size,
      pmos: this.k.pmos.count,
      nvmFree: this.k.pmos.extents.freePages(),
    };
  }

  setGroup(group: number, change: { quotaObjects?: number; quotaPages?: number }): void {
    this.k.table.update(this.k.table.expect(group, ObjKind.CAP_GROUP), change);
  }

  spareObjects(group: number): number {
    const r = this.k.table.expect(group, ObjKind.CAP_GROUP);
    return r.quotaObjects - r.usedObjects;
  }
}

/** One creating call: what it needs made first, and its arguments. */
interface Creating {
  op: SyscallOp;
  /** Makes what the call needs; returns its arguments. */
  prepare(m: Machine): Promise<unknown[]>;
  /** Another cap group the call charges (thread_create into a child group). */
  other?: (m: Machine, args: unknown[]) => number;
  /** Its capability arguments: index, and whether it must name an object of one kind. */
  caps?: Array<[index: number, kinded: boolean]>;
  /** True when it makes a PMO (pages and NVM can run out). */
  pages?: boolean;
}

const slotOf = async (m: Machine, op: SyscallOp, ...args: unknown[]) =>
  (await m.call(op, ...args)) as number;

/** A child cap group of the caller's, and the caller's slot for it. */
async function child(m: Machine): Promise<{ slot: number; id: number }> {
  const slot = await slotOf(m, "cap_group_create", "child", 100, 50);
  return { slot, id: (m.k.caps.list(m.g).find((c) => c.slot === slot)!).obj };
}

const CALLS: Creating[] = [
  { op: "endpoint_create", prepare: () => Promise.resolve([]) },
  { op: "pmo_create", prepare: () => Promise.resolve([4]), pages: true },
  { op: "notification_create", prepare: () => Promise.resolve([]), pages: true },
  {
    op: "connect",
    prepare: async (m) => [await slotOf(m, "endpoint_create")],
    caps: [[0, true]],
    pages: true,
  },
  { op: "cap_group_create", prepare: () => Promise.resolve(["child", 10, 5]) },
  {
    op: "thread_create",
    prepare: () => Promise.resolve([0, PROGRAM, {}, "none"]),
    caps: [[0, true]],
    pages: true,
  },
  {
    op: "thread_create",
    prepare: async (m) => [(await child(m)).slot, PROGRAM, {}, "none"],
    other: (m, args) => m.k.caps.list(m.g).find((c) => c.slot === args[0])!.obj,
    caps: [[0, true]],
    pages: true,
  },
  {
    op: "cap_copy",
    prepare: async (m) => [await slotOf(m, "endpoint_create")],
    caps: [[0, false]],
  },
  {
    op: "cap_mint",
    prepare: async (m) => [await slotOf(m, "endpoint_create"), RIGHTS_ALL, 7],
    caps: [[0, false]],
  },
  {
    op: "cap_grant",
    prepare: async (m) => [(await child(m)).slot, await slotOf(m, "endpoint_create")],
    other: (m, args) => m.k.caps.list(m.g).find((c) => c.slot === args[0])!.obj,
    caps: [[0, true], [1, false]],
  },
  {
    op: "cap_transfer",
    prepare: async (m) => {
      const ep = await slotOf(m, "endpoint_create");
      await m.call("endpoint_serve", ep); // the caller serves it: the transfer comes back to it
      const conn = (await m.call("connect", ep)) as { slot: number };
      return [conn.slot, await slotOf(m, "endpoint_create")];
    },
    caps: [[0, true], [1, false]],
  },
  {
    op: "irq_bind",
    prepare: async (m) => {
      const timer = m.k.table.create(ObjKind.IRQ, { line: "timer", periodMs: 0, notification: 0 });
      const irq = m.k.caps.insertOriginal(m.g, timer.id, RIGHTS_ALL);
      return [irq, await slotOf(m, "notification_create"), 10];
    },
    caps: [[0, true], [1, true]],
  },
  {
    op: "pmo_map",
    prepare: async (m) => [await slotOf(m, "pmo_create", 1), true],
    caps: [[0, true]],
  },
];

const label = (c: Creating) => `${c.op}${c.other ? " (into another cap group)" : ""}`;

/**
 * Drives `c` on a fresh machine: `limit(m, spare)` leaves `spare` of one
 * resource; from 0 up, each refusal must be `code` and change nothing, until
 * the call succeeds (which it must within `most`).
 */
async function exhaust(
  c: Creating,
  what: string,
  code: Err,
  most: number,
  limit: (m: Machine, spare: number, args: unknown[]) => void,
): Promise<void> {
  const m = new Machine();
  const args = await c.prepare(m);
  for (let spare = 0;; spare++) {
    assert.ok(spare <= most, `${label(c)} never succeeded with ${most} ${what} spare`);
    limit(m, spare, args);
    const before = m.usage();
    let error: unknown;
    try {
      await m.call(c.op, ...args);
      return;
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof TardigradeError, `${label(c)}: ${error}`);
    assert.equal(
      error.codeName,
      Err[code],
      `${label(c)} with ${spare} ${what}: ${error.message}`,
    );
    assert.deepEqual(
      m.usage(),
      before,
      `${label(c)} refused with ${spare} ${what} changed usage`,
    );
  }
}

for (const c of CALLS) {
  Deno.test(`${label(c)}: over the object quota, it changes nothing`, async () => {
    await exhaust(c, "objects", Err.E_NO_MEMORY, 16, (m, spare) => {
      m.setGroup(m.g, {
        quotaObjects: m.k.table.expect(m.g, ObjKind.CAP_GROUP).usedObjects + spare,
      });
    });
    if (!c.other) return;
    await exhaust(c, "objects of the other group", Err.E_NO_MEMORY, 16, (m, spare, args) => {
      const other = c.other!(m, args);
      m.setGroup(other, {
        quotaObjects: m.k.table.expect(other, ObjKind.CAP_GROUP).usedObjects + spare,
      });
    });
  });

  Deno.test(`${label(c)}: with no empty slot, it changes nothing`, async () => {
    const fill = (m: Machine, group: number, spare: number) => {
      // Fill every slot but `spare` (the highest ones are emptied first).
      for (const cap of m.k.caps.list(group)) {
        if (cap.obj === 0 && cap.slot >= CAP_SLOTS_MAX - spare) m.k.caps.deleteCap(cap);
      }
      const taken = new Set(m.k.caps.list(group).map((x) => x.slot));
      for (let s = 0; s < CAP_SLOTS_MAX - spare; s++) {
        if (!taken.has(s)) m.k.caps.insertOriginal(group, 0, 0, s);
      }
    };
    const roomy = (m: Machine, group: number) => m.setGroup(group, { quotaObjects: RECORDS_MAX });
    await exhaust(c, "slots", Err.E_LIMIT, 4, (m, spare) => {
      roomy(m, m.g);
      fill(m, m.g, spare);
    });
    if (!c.other) return;
    await exhaust(c, "slots of the other group", Err.E_LIMIT, 4, (m, spare, args) => {
      roomy(m, c.other!(m, args));
      fill(m, c.other!(m, args), spare);
    });
  });

  Deno.test(`${label(c)}: with the object table full, it changes nothing`, async () => {
    const fillers: number[] = [];
    await exhaust(c, "free records", Err.E_LIMIT, 8, (m, spare) => {
      const free = () => RECORDS_MAX - 1 - m.k.table.size;
      while (free() > spare) fillers.push(m.k.table.create(ObjKind.VM_SPACE, { group: 0 }).id);
      while (free() < spare) m.k.table.remove(fillers.pop()!);
      m.k.table.flush(m.kernelMemory); // a removed record's id is free once flushed
    });
  });

  if (c.pages) {
    Deno.test(`${label(c)}: over the page quota, it changes nothing`, async () => {
      await exhaust(c, "pages", Err.E_NO_MEMORY, 64, (m, spare, args) => {
        const group = c.other?.(m, args) ?? m.g;
        m.setGroup(group, {
          quotaPages: m.k.table.expect(group, ObjKind.CAP_GROUP).usedPages + spare,
        });
      });
    });

    Deno.test(`${label(c)}: with NVM full, it changes nothing`, async () => {
      let filler: PmoRecord | undefined;
      await exhaust(c, "NVM pages", Err.E_NO_MEMORY, 64, (m, spare) => {
        if (filler) m.k.pmos.destroy(filler);
        const free = m.k.pmos.extents.freePages();
        filler = free > spare ? m.k.pmos.create(free - spare, "data", 0) : undefined;
      });
    });
  }

  if (c.caps) {
    Deno.test(`${label(c)}: a bad, empty, wrong-kind or rightless capability changes nothing`, async () => {
      const m = new Machine();
      const args = await c.prepare(m);
      const ep = await slotOf(m, "endpoint_create");
      for (const [index, kinded] of c.caps!) {
        const cases: Array<[unknown, Err]> = [
          [-1, Err.E_BAD_SLOT],
          [CAP_SLOTS_MAX, Err.E_BAD_SLOT],
          [5000, Err.E_EMPTY_SLOT],
          // A capability of the right kind with no rights (a copy of it with none).
          [await slotOf(m, "cap_copy", args[index], 0), Err.E_NO_RIGHTS],
        ];
        if (kinded) {
          // Slot 0 holds the caller's cap group: an endpoint where a cap group is wanted.
          const kind = m.k.table.get(m.k.caps.list(m.g).find((x) => x.slot === args[index])!.obj)
            ?.kind;
          cases.push([kind === ObjKind.CAP_GROUP ? ep : 0, Err.E_WRONG_KIND]);
        }
        for (const [slot, code] of cases) {
          const bad = [...args];
          bad[index] = slot;
          const before = m.usage();
          assert.equal(
            Err[await m.refused(c.op, bad)],
            Err[code],
            `${c.op} arg ${index} ${slot}`,
          );
          assert.deepEqual(m.usage(), before, `${c.op} with ${slot} as argument ${index}`);
        }
      }
    });
  }
}

Deno.test("creating calls: bad arguments and per-call limits change nothing", async () => {
  const m = new Machine();
  const ep = await slotOf(m, "endpoint_create");
  const bad: Array<[SyscallOp, unknown[], Err]> = [
    ["pmo_create", [0], Err.E_BAD_ARGUMENT],
    ["pmo_create", ["3"], Err.E_BAD_ARGUMENT],
    ["cap_group_create", ["no spaces", 10], Err.E_BAD_ARGUMENT],
    ["cap_group_create", ["child", 100_000], Err.E_BAD_ARGUMENT],
    ["cap_group_create", ["child", 10, RECORDS_MAX], Err.E_NO_MEMORY],
    ["thread_create", [0, "../escape.ts", {}, "none"], Err.E_BAD_ARGUMENT],
    ["thread_create", [0, PROGRAM, {}, "sometimes"], Err.E_BAD_ARGUMENT],
    ["thread_create", [0, PROGRAM, { blob: "x".repeat(200) }, "none"], Err.E_BAD_ARGUMENT],
    ["cap_copy", [ep, RIGHTS_ALL + 1], Err.E_BAD_ARGUMENT],
    ["cap_mint", [ep, RIGHTS_ALL, 0], Err.E_BAD_ARGUMENT],
    ["cap_copy", [ep, RIGHTS_ALL, 0], Err.E_EXISTS],
    ["irq_bind", [ep, ep, 0], Err.E_WRONG_KIND],
  ];
  const weak = await slotOf(m, "cap_copy", ep, Right.CALL | Right.GRANT);
  bad.push(["cap_copy", [weak, RIGHTS_ALL], Err.E_NO_RIGHTS]); // more rights than its source
  for (let i = 0; i < CLIENT_CONNECTIONS_MAX; i++) await m.call("connect", ep);
  bad.push(["connect", [ep], Err.E_LIMIT]);
  for (const [op, args, code] of bad) {
    const before = m.usage();
    assert.equal(Err[await m.refused(op, args)], Err[code], `${op}(${JSON.stringify(args)})`);
    assert.deepEqual(m.usage(), before, `${op}(${JSON.stringify(args).slice(0, 80)})`);
  }
});

Deno.test("cap_group_create: by default it leaves the caller room for the records it costs", async () => {
  const m = new Machine();
  // Fewer spare objects than the default 256: the default takes what the call leaves.
  m.setGroup(m.g, { quotaObjects: m.k.table.expect(m.g, ObjKind.CAP_GROUP).usedObjects + 10 });
  await m.call("cap_group_create", "child", 10);
  assert.equal(m.spareObjects(m.g), 0, "7 objects carved, 3 charged for the group");
  const child = [...m.k.table.ofKind(ObjKind.CAP_GROUP)].find((g) => g.name === "child")!;
  assert.equal(child.quotaObjects, 7);
  const before = m.usage();
  assert.equal(Err[await m.refused("cap_group_create", ["again", 10])], "E_NO_MEMORY");
  assert.deepEqual(m.usage(), before);
});
