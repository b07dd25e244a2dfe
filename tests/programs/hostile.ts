/**
 * Test program: a hostile application that tries every way into what is not
 * its own, beyond the basic slot, rights and revoke checks of
 * tests/programs/captest.ts. Started by tests/faults/isolation_test.ts with
 * `--apps counter,tests/programs/hostile.ts`; prints one line
 * `hostile {json}` with the outcome of every attempt:
 *
 * - `guess`: every system call that takes a slot, on every slot number it
 *   does not hold up to past the highest kernel object id (so the id of every
 *   other component's connection, PMO and endpoint is tried as a slot), on
 *   the slots it holds with the wrong kind or too few rights, and on values
 *   that are no slot at all;
 * - `conn`: connection capabilities without CALL or GRANT, deleted, or closed
 *   by a revoke;
 * - `buffers`: every SharedArrayBuffer reachable in this worker, and where a
 *   marker written into the memory server's heap shows up among them;
 * - `memory`: writes past the end of a mapped PMO (through PersistentMemory
 *   and raw typed arrays) and through a read-only mapping; other owners'
 *   objects at the memory server (tests/programs/owner.ts's, started beside it);
 * - `garbage`: malformed messages on the kernel channel and a malformed
 *   request slot on its own connection to the net server;
 * - `serving`: afterwards the memory, fs and net servers still answer.
 *
 * The attacks run after `main` has returned (the hostile app must not hold
 * back checkpoints while it works). Two modes show faults found when this
 * test was written (the ignored tests in isolation_test.ts): `?crash=1` sends
 * the kernel-channel messages that crashed the kernel and prints
 * `hostile-crash {json}`; `?stall=1` never returns from `main`, which held
 * back every checkpoint of the machine.
 *
 * Slots as init gives them: 0 own cap group, 1 own thread, 2 timer
 * notification, 3 memory, 4 fs, 5 net.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import {
  CONN_BYTES,
  CONN_REQ_RING_OFFSET,
  ConnWord,
  type PmoBuffers,
  SlotField,
} from "../../kernel/abi/layout.ts";
import {
  CAP_SLOTS_MAX,
  MESSAGE_PAYLOAD_BYTES_MAX,
  PAGE_BYTES,
  RING_SLOT_BYTES,
  RING_SLOTS,
} from "../../kernel/abi/limits.ts";
import type { StartMessage } from "../../kernel/abi/protocol.ts";
import { Slot } from "../../kernel/abi/slots.ts";
import { Right } from "../../kernel/abi/rights.ts";
import type { CapInfo } from "../../kernel/abi/syscall_types.ts";
import { FsClient } from "../../servers/runtime/fs.ts";
import { OpenFlag } from "../../servers/fs/vfs.ts";
import { OWNER_OBJECT, ownerObject } from "./_owner_object.ts";
import { MemoryClient } from "../../servers/memory/client.ts";
import { Label, type ServerStatus } from "../../servers/protocol.ts";
import { type ClientConnection, parseJson, type Reply, unwrap } from "../../servers/runtime/ipc.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { type Context, runProgram } from "../../servers/runtime/program.ts";
import type { Sys } from "../../servers/runtime/sys.ts";

/** The outcome of one attempt: its value, or the name of its error. */
type Outcome = { ok: unknown } | { err: string };

/** Error name of a caught value: a Tardigrade code name, else the JS error's name. */
function errorName(e: unknown): string {
  if (e instanceof TardigradeError) return e.codeName;
  return e instanceof Error ? e.name : `untyped: ${String(e)}`;
}

async function attempt(f: () => Promise<unknown> | unknown): Promise<Outcome> {
  try {
    return { ok: await f() };
  } catch (e) {
    return { err: errorName(e) };
  }
}

/** Outcomes counted by error name ("ok" for a success). */
type Tally = Record<string, number>;

function count(t: Tally, o: Outcome): void {
  const key = "ok" in o ? "ok" : o.err;
  t[key] = (t[key] ?? 0) + 1;
}

/** What this program reaches inside its own runtime and Sys (plain fields at run time). */
interface RuntimeInternals {
  start: StartMessage;
}
interface SysInternals {
  nextId: number;
  waiting: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  post(msg: unknown): void;
}
interface ConnInternals {
  mem: PersistentMemory;
  pending: Map<number, (r: Reply) => void>;
}
interface PmemInternals {
  state: Uint8Array;
  backup: Uint8Array;
  summary: Uint8Array;
}

/** Posts any message on the kernel channel; with `reply`, registers an id for the answer. */
function postRaw(sys: Sys, fields: Record<string, unknown>): Promise<unknown> {
  const s = sys as unknown as SysInternals;
  const id = s.nextId++;
  return new Promise((resolve, reject) => {
    s.waiting.set(id, { resolve, reject });
    s.post({ t: "syscall", id, ...fields });
  });
}

// ---- slot guessing ----

/** A system call whose first checked argument is a slot, and what it needs there. */
interface SlotOp {
  name: string;
  /** Kind the slot must hold (null: any). */
  kind: string | null;
  rights: number;
  call: (sys: Sys, slot: unknown) => Promise<unknown>;
}

/** Every call that looks up a slot. None can succeed on a slot this program does not hold. */
const SLOT_OPS: SlotOp[] = [
  { name: "cap_info", kind: null, rights: 0, call: (s, x) => s.raw("cap_info", x) },
  { name: "cap_copy", kind: null, rights: Right.GRANT, call: (s, x) => s.raw("cap_copy", x, 0) },
  {
    name: "cap_mint",
    kind: null,
    rights: Right.GRANT,
    call: (s, x) => s.raw("cap_mint", x, 0, 77),
  },
  { name: "cap_delete", kind: null, rights: 0, call: (s, x) => s.raw("cap_delete", x) },
  { name: "cap_revoke", kind: null, rights: 0, call: (s, x) => s.raw("cap_revoke", x) },
  {
    name: "cap_grant(source)",
    kind: null,
    rights: Right.GRANT,
    call: (s, x) => s.raw("cap_grant", 0, x, 0),
  },
  {
    name: "cap_grant(group)",
    kind: "CAP_GROUP",
    rights: Right.WRITE,
    call: (s, x) => s.raw("cap_grant", x, 3, 0),
  },
  {
    name: "cap_transfer",
    kind: "CONNECTION",
    rights: Right.GRANT,
    call: (s, x) => s.raw("cap_transfer", x, 3, 0),
  },
  { name: "pmo_map", kind: "PMO", rights: Right.READ, call: (s, x) => s.raw("pmo_map", x, false) },
  {
    name: "pmo_map(writable)",
    kind: "PMO",
    rights: Right.READ | Right.WRITE,
    call: (s, x) => s.raw("pmo_map", x, true),
  },
  { name: "connect", kind: "ENDPOINT", rights: Right.CALL, call: (s, x) => s.raw("connect", x) },
  {
    name: "conn_attach",
    kind: "CONNECTION",
    rights: Right.CALL,
    call: (s, x) => s.raw("conn_attach", x),
  },
  {
    name: "endpoint_serve",
    kind: "ENDPOINT",
    rights: Right.RECEIVE,
    call: (s, x) => s.raw("endpoint_serve", x),
  },
  {
    name: "notification_bind",
    kind: "NOTIFICATION",
    rights: Right.RECEIVE,
    call: (s, x) => s.raw("notification_bind", x),
  },
  {
    name: "notification_signal",
    kind: "NOTIFICATION",
    rights: Right.SEND,
    call: (s, x) => s.raw("notification_signal", x),
  },
  {
    name: "irq_bind",
    kind: "IRQ",
    rights: Right.READ,
    // Slot 2 (the timer notification) lacks SEND: this can never bind anything.
    call: (s, x) => s.raw("irq_bind", x, 2, 1000),
  },
  {
    name: "thread_create",
    kind: "CAP_GROUP",
    rights: Right.WRITE,
    // Not a valid program path: this can never start anything.
    call: (s, x) => s.raw("thread_create", x, "tests/programs/none?.ts", {}),
  },
];

/** Values that are no slot number at all. */
function notSlots(): unknown[] {
  return [
    -1,
    CAP_SLOTS_MAX,
    2 ** 31,
    2 ** 53,
    -(2 ** 31),
    NaN,
    Infinity,
    -Infinity,
    1.5,
    "3",
    "0",
    null,
    undefined,
    true,
    [3],
    { slot: 3 },
    { toString: 1 },
    3n,
    new SharedArrayBuffer(4),
  ];
}

/** Would `op` pass its slot lookup on capability `cap`? (Then it is not an attack: skip it.) */
function wouldPass(op: SlotOp, cap: CapInfo): boolean {
  return (op.kind === null || op.kind === cap.kind) && (cap.rights & op.rights) === op.rights;
}

async function guessSlots(sys: Sys, held: CapInfo[]): Promise<Record<string, unknown>> {
  const bySlot = new Map(held.map((c) => [c.slot, c]));
  // Kernel object ids count up: this program's newest objects have the highest ids so far,
  // so every other component's object id is below `top` and is tried as a slot.
  const maxObjectId = Math.max(...held.map((c) => c.object));
  const top = Math.max(256, maxObjectId + 64);
  const unheld: Record<string, Tally> = {};
  const heldTally: Record<string, Tally> = {};
  const bad: Record<string, Tally> = {};
  const successes: string[] = [];
  for (const op of SLOT_OPS) {
    unheld[op.name] = {};
    heldTally[op.name] = {};
    bad[op.name] = {};
  }
  const probes: Array<Promise<void>> = [];
  const probe = (op: SlotOp, slot: unknown, into: Tally) =>
    probes.push(
      attempt(() => op.call(sys, slot)).then((o) => {
        count(into, o);
        if ("ok" in o) successes.push(`${op.name}(${String(slot)})`);
      }),
    );
  for (let slot = 0; slot <= top; slot++) {
    const cap = bySlot.get(slot);
    for (const op of SLOT_OPS) {
      if (!cap) probe(op, slot, unheld[op.name]);
      else if (!wouldPass(op, cap)) probe(op, slot, heldTally[op.name]);
    }
    if (probes.length >= 256) await Promise.all(probes.splice(0));
  }
  for (const value of notSlots()) for (const op of SLOT_OPS) probe(op, value, bad[op.name]);
  await Promise.all(probes);
  return { maxObjectId, top, unheld, held: heldTally, notSlots: bad, successes };
}

// ---- the buffers this worker holds ----

/** Every SharedArrayBuffer reachable from `roots`, with the PMO id of those that belong to one. */
function inventory(roots: unknown[]): { all: Set<SharedArrayBuffer>; pmoOf: Map<unknown, number> } {
  const all = new Set<SharedArrayBuffer>();
  const pmoOf = new Map<unknown, number>();
  const seen = new Set<unknown>();
  const stack = [...roots];
  const owned = (id: number, ...views: Array<{ buffer: ArrayBufferLike }>) => {
    for (const v of views) pmoOf.set(v.buffer, id);
  };
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object" || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof SharedArrayBuffer) {
      all.add(v);
      continue;
    }
    if (ArrayBuffer.isView(v)) {
      stack.push(v.buffer);
      continue;
    }
    if (v instanceof ArrayBuffer || v instanceof MessagePort) continue;
    if (v instanceof PersistentMemory) {
      const p = v as unknown as PmemInternals;
      owned(v.id, v.bytes, p.state, p.backup, p.summary);
    }
    if (isPmoBuffers(v)) {
      for (const b of [v.data, v.pageState, v.backup, v.dirtySummary]) pmoOf.set(b, v.id);
    }
    if (v instanceof Map) { for (const [k, x] of v) stack.push(k, x); }
    if (v instanceof Set) { for (const x of v) stack.push(x); }
    for (const key of Object.getOwnPropertyNames(v)) {
      const d = Object.getOwnPropertyDescriptor(v, key);
      if (d && "value" in d) stack.push(d.value);
    }
  }
  return { all, pmoOf };
}

function isPmoBuffers(v: object): v is PmoBuffers {
  const b = v as Partial<PmoBuffers>;
  return typeof b.id === "number" && b.data instanceof SharedArrayBuffer &&
    b.pageState instanceof SharedArrayBuffer && b.backup instanceof SharedArrayBuffer &&
    b.dirtySummary instanceof SharedArrayBuffer;
}

/** True when `bytes` contains `needle`. */
function contains(bytes: Uint8Array, needle: Uint8Array): boolean {
  for (let i = bytes.indexOf(needle[0]); i >= 0; i = bytes.indexOf(needle[0], i + 1)) {
    let j = 1;
    while (j < needle.length && bytes[i + j] === needle[j]) j++;
    if (j === needle.length) return true;
  }
  return false;
}

// ---- the program ----

async function hostile(ctx: Context): Promise<Record<string, unknown>> {
  const sys = ctx.sys;
  const out: Record<string, unknown> = {};

  // What it holds legitimately: the three servers, four PMOs, a read-only PMO.
  const memoryConn = await ctx.connect(ctx.cap("memory"));
  const fsConn = await ctx.connect(ctx.cap("fs"));
  const netConn = await ctx.connect(ctx.cap("net"));
  const memory = new MemoryClient(memoryConn);
  const fs = new FsClient(fsConn);
  const a = await ctx.map(await sys.pmoCreate(1));
  const b = await ctx.map(await sys.pmoCreate(1));
  const probe = await ctx.map(await sys.pmoCreate(1));
  const rw = await sys.pmoCreate(1);
  const roSlot = await sys.capCopy(rw, Right.READ | Right.GRANT);
  await sys.capDelete(rw); // from now on it holds that PMO read-only
  const ro = await ctx.map(roSlot, false);

  // ---- connections it was never given, or no longer holds ----
  const conn: Record<string, Outcome> = {};
  // A connection of its own to take copies from; deleting a copy leaves it open.
  const spare = await sys.connect(ctx.cap("net"));
  const noCall = await sys.capCopy(spare.slot, Right.READ | Right.GRANT);
  const noGrant = await sys.capCopy(spare.slot, Right.READ | Right.CALL);
  conn.attachWithoutCall = await attempt(() => sys.connAttach(noCall));
  conn.transferWithoutGrant = await attempt(() => sys.capTransfer(noGrant, ctx.cap("memory")));
  conn.escalateConnection = await attempt(() => sys.capCopy(noCall, Right.CALL | Right.GRANT));
  await sys.capDelete(noCall);
  conn.attachDeleted = await attempt(() => sys.connAttach(noCall));
  conn.spareOpenAfterCopyDeleted = {
    ok: Atomics.load(new Int32Array(spare.ring.data), ConnWord.CLOSED),
  };
  const endpoint = await sys.endpointCreate();
  const minted = await sys.capMint(endpoint, Right.CALL, 9);
  const revokedHandle = await sys.connect(minted);
  await sys.capRevoke(endpoint);
  conn.attachRevoked = await attempt(() => sys.connAttach(revokedHandle.slot));
  conn.transferRevoked = await attempt(() => sys.capTransfer(revokedHandle.slot, endpoint));
  conn.connectRevoked = await attempt(() => sys.connect(minted));
  conn.revokedRingClosed = {
    ok: Atomics.load(new Int32Array(revokedHandle.ring.data), ConnWord.CLOSED),
  };
  out.conn = conn;

  // ---- every slot number, held or not ----
  const held = await sys.capList();
  out.held = held.map((c) => `${c.slot}:${c.kind}`);
  out.guess = await guessSlots(sys, held);

  // ---- the memory server's heap: a marker written there must appear in none of our buffers ----
  const marker = crypto.getRandomValues(new Uint8Array(32));
  const obj = await memory.alloc(64);
  // In two halves: no ring slot ever holds the whole marker, only the heap does.
  await memory.write(obj.id, 0, marker.subarray(0, 16));
  await memory.write(obj.id, 16, marker.subarray(16));
  probe.write(100, marker); // positive control: the scan finds it in our own PMO
  const roots = [ctx, a, b, probe, ro, spare, revokedHandle, memoryConn, fsConn, netConn];
  const { all, pmoOf } = inventory(roots);
  const pmoIds = new Set<number>();
  const loose: number[] = [];
  const markerIn: Array<number | string> = [];
  for (const buf of all) {
    const id = pmoOf.get(buf);
    if (id === undefined) loose.push(buf.byteLength);
    else pmoIds.add(id);
    if (contains(new Uint8Array(buf), marker)) markerIn.push(id ?? `loose ${buf.byteLength}`);
  }
  const readBack = new Uint8Array([
    ...await memory.read(obj.id, 0, 16),
    ...await memory.read(obj.id, 16, 16),
  ]);
  const connsOf = (c: ClientConnection) => (c as unknown as ConnInternals).mem;
  const rings = [memoryConn, fsConn, netConn].map(connsOf);
  out.buffers = {
    pmoIds: [...pmoIds].sort((x, y) => x - y),
    console: (ctx.waiter as unknown as RuntimeInternals).start.console.id,
    // Its slot record is mapped by the runtime (servers/runtime/names.ts).
    mapped: [(await sys.capInfo(Slot.RECORD)).object, a.id, b.id, probe.id, ro.id],
    rings: [...rings.map((r) => r.id), spare.ring.id, revokedHandle.ring.id],
    ringBytes: [
      ...rings.map((r) => r.byteLength),
      spare.ring.data.byteLength,
      revokedHandle.ring.data.byteLength,
    ],
    connBytes: CONN_BYTES,
    loose: loose.sort((x, y) => x - y),
    markerIn,
    probe: probe.id,
    markerInHeap: readBack.every((x, i) => x === marker[i]),
  };

  // ---- memory not mapped to it ----
  b.fill(0, PAGE_BYTES, 0xab);
  const p = a as unknown as PmemInternals;
  const past: Record<string, Outcome> = {
    setU32: await attempt(() => a.setU32(PAGE_BYTES, 1)),
    setU32Straddle: await attempt(() => a.setU32(PAGE_BYTES - 2, 1)),
    setU8Negative: await attempt(() => a.setU8(-1, 1)),
    setF64Far: await attempt(() => a.setF64(2 ** 32 + 8, 1)),
    write: await attempt(() => a.write(PAGE_BYTES - 8, new Uint8Array(16).fill(0xcd))),
    fill: await attempt(() => a.fill(0, PAGE_BYTES + 1, 0xcd)),
    atomicStore: await attempt(() => a.atomicStore(PAGE_BYTES / 4, 1)),
    atomicAddNegative: await attempt(() => a.atomicAdd(-1, 1)),
    markDirty: await attempt(() => a.markDirty(PAGE_BYTES, 1)),
    rawIndex: await attempt(() => {
      a.bytes[PAGE_BYTES] = 0xcd;
      return a.bytes[PAGE_BYTES] === undefined ? "no-op" : "landed";
    }),
    rawNegativeIndex: await attempt(() => {
      a.bytes[-1] = 0xcd;
      return a.bytes[-1] === undefined ? "no-op" : "landed";
    }),
    rawPageStateIndex: await attempt(() => {
      p.state[1] = 1;
      return p.state[1] === undefined ? "no-op" : "landed";
    }),
    rawSet: await attempt(() => a.bytes.set(new Uint8Array(16).fill(0xcd), PAGE_BYTES - 8)),
    rawAtomics: await attempt(() => Atomics.store(a.words, PAGE_BYTES / 4, 1)),
    rawDataView: await attempt(() => new DataView(a.bytes.buffer).setUint32(PAGE_BYTES, 1)),
    rawView: await attempt(() => new Uint8Array(a.bytes.buffer, PAGE_BYTES, 1)),
    rawBackupSet: await attempt(() => p.backup.set(new Uint8Array(16), PAGE_BYTES - 8)),
    rawGrow: await attempt(() =>
      (a.bytes.buffer as unknown as { grow(n: number): void }).grow(2 * PAGE_BYTES)
    ),
  };
  const readOnly: Record<string, Outcome> = {
    write: await attempt(() => ro.write(0, new Uint8Array([1]))),
    fill: await attempt(() => ro.fill(0, 8, 1)),
    setU8: await attempt(() => ro.setU8(0, 1)),
    setF64: await attempt(() => ro.setF64(0, 1)),
    atomicStore: await attempt(() => ro.atomicStore(0, 1)),
    atomicAdd: await attempt(() => ro.atomicAdd(0, 1)),
    atomicCas: await attempt(() => ro.atomicCas(0, 0, 1)),
    atomicOr: await attempt(() => ro.atomicOr(0, 1)),
    atomicAnd: await attempt(() => ro.atomicAnd(0, 0)),
    markDirty: await attempt(() => ro.markDirty(0, 1)),
    copyWritable: await attempt(() => sys.capCopy(roSlot, Right.READ | Right.WRITE)),
  };
  const unchanged = ro.getU32(0) === 0;
  // The trust model's stated limit: a raw typed-array write is not stopped, but stays in that PMO.
  ro.bytes[0] = 7;
  out.memory = {
    pastEnd: past,
    aBytes: a.byteLength,
    otherPmoIntact: b.bytes.every((x) => x === 0xab),
    readOnly,
    readOnlyUnchanged: unchanged,
    readOnlyRawWrite: ro.bytes[0] === 7 ? "lands in that PMO only" : "stopped",
    otherPmoIntactAfterRaw: b.bytes.every((x) => x === 0xab),
  };

  // ---- other owners' objects at the memory server ----
  const fileName = `/hostile-${ctx.threadId}`;
  const fileBytes = new TextEncoder().encode("not yours");
  const fd = await fs.open(fileName, OpenFlag.RDWR | OpenFlag.CREAT);
  await fs.write(fd, fileBytes);
  const theirs = await ownerObject(memory); // names are public; the object is not
  const foreign: Record<string, unknown> = {
    ownerOwner: theirs.owner,
    read: await attempt(() => memory.read(theirs.id, 0, 8)),
    write: await attempt(() => memory.write(theirs.id, 0, new Uint8Array(8))),
    free: await attempt(() => memory.free(theirs.id)),
    deleteName: await attempt(() => memory.deleteName(OWNER_OBJECT)),
  };
  // Guessed ids: the same heap instance, every slot and a few generations.
  const own = new Set([obj.id]);
  const guessed: Tally = {};
  const prefix = obj.id.slice(0, 16);
  for (let slot = 0; slot < 64; slot++) {
    for (let gen = 0; gen < 3; gen++) {
      const id = prefix + gen.toString(16).padStart(8, "0") + slot.toString(16).padStart(8, "0");
      if (!own.has(id)) count(guessed, await attempt(() => memory.read(id, 0, 1)));
    }
  }
  foreign.guessedReads = guessed;
  foreign.fileIntact = new TextDecoder().decode(await fs.pread(fd, 0, 64));
  out.foreign = foreign;

  // ---- garbage on the kernel channel ----
  const garbage: Record<string, Outcome> = {};
  for (
    const op of [
      "constructor",
      "toString",
      "__proto__",
      "hasOwnProperty",
      "valueOf",
      "",
      "CAP_INFO",
    ]
  ) {
    garbage[`op ${JSON.stringify(op)}`] = await attempt(() => sys.raw(op));
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  let deep: Record<string, unknown> = {};
  for (let i = 0; i < 2000; i++) deep = { d: deep };
  const program = "tests/programs/victim.ts"; // every call below fails before it could start one
  Object.assign(garbage, {
    hugeArgCount: await attempt(() =>
      sys.raw("cap_info", CAP_SLOTS_MAX, ...new Array(100_000).fill(0))
    ),
    hugeName: await attempt(() => sys.raw("cap_group_create", "a".repeat(1_000_000), 1)),
    hugeProgram: await attempt(() => sys.raw("thread_create", 0, "x".repeat(10_000_000))),
    hugeThreadArgs: await attempt(() =>
      sys.raw("thread_create", 0, program, { x: "x".repeat(1_000_000) })
    ),
    cyclicThreadArgs: await attempt(() => sys.raw("thread_create", 0, program, cyclic)),
    deepThreadArgs: await attempt(() => sys.raw("thread_create", 0, program, deep)),
    bigintThreadArgs: await attempt(() => sys.raw("thread_create", 0, program, { n: 1n })),
    bigintProgram: await attempt(() => sys.raw("thread_create", 0, 10n)),
    bigintPolicy: await attempt(() => sys.raw("thread_create", 0, program, {}, 1n)),
    objectPolicy: await attempt(() => sys.raw("thread_create", 0, program, {}, { toString: 1 })),
    arrayThreadArgs: await attempt(() => sys.raw("thread_create", 0, program, [1, 2])),
    bigintPages: await attempt(() => sys.raw("pmo_create", 1n)),
    objectPages: await attempt(() => sys.raw("pmo_create", { toString: 1 })),
    nanPages: await attempt(() => sys.raw("pmo_create", NaN)),
    arrayPages: await attempt(() => sys.raw("pmo_create", [1])),
    stringWritable: await attempt(() => sys.raw("pmo_map", roSlot, "yes")),
    hugeBadge: await attempt(() => sys.raw("cap_mint", roSlot, Right.READ, 2 ** 40)),
    objectRights: await attempt(() => sys.raw("cap_copy", roSlot, { toString: 1 })),
    objectGroupName: await attempt(() => sys.raw("cap_group_create", { toString: 1 }, 1)),
    argsString: await attempt(() => postRaw(sys, { op: "cap_info", args: "3" })),
    argsObject: await attempt(() => postRaw(sys, { op: "cap_info", args: { 0: 3, length: 1 } })),
    argsMissing: await attempt(() => postRaw(sys, { op: "cap_info" })),
    argsNull: await attempt(() => postRaw(sys, { op: "cap_info", args: null })),
    opNumber: await attempt(() => postRaw(sys, { op: 42, args: [] })),
    opArray: await attempt(() => postRaw(sys, { op: ["cap_info"], args: [3] })),
    opNull: await attempt(() => postRaw(sys, { op: null, args: [] })),
  });
  // Messages that are no system call at all, or pretend to be the board: ignored.
  const post = (sys as unknown as SysInternals).post;
  for (
    const m of [
      null,
      42,
      "syscall",
      [],
      {},
      { t: "sysret", id: 1, ok: true, value: 1 },
      { t: "worker-failed", threadId: 17, message: "forged" },
      { t: "shutdown" },
      { t: "tick", nowMs: 1e12 },
      { t: "log", text: 42 },
      { t: "syscall" },
      { t: "syscall", id: -1, op: "cap_info", args: [0] },
    ]
  ) post(m);
  garbage.channelStillAnswers = await attempt(async () => (await sys.systemInfo()).threadId);
  out.garbage = garbage;

  // ---- garbage on its own ring: a request slot with an impossible length ----
  const inner = netConn as unknown as ConnInternals;
  const head = Atomics.load(inner.mem.words, ConnWord.REQ_HEAD);
  const at = CONN_REQ_RING_OFFSET + (head & (RING_SLOTS - 1)) * RING_SLOT_BYTES;
  const tag = 0x7ffffff0;
  inner.mem.setU32(at + SlotField.LENGTH, MESSAGE_PAYLOAD_BYTES_MAX * 1000);
  inner.mem.setU32(at + SlotField.LABEL, Label.ECHO);
  inner.mem.setU32(at + SlotField.TAG, tag);
  inner.mem.setU32(at + SlotField.STATUS, 0);
  const badReply = new Promise<Reply>((resolve) => inner.pending.set(tag, resolve));
  inner.mem.atomicStore(ConnWord.REQ_HEAD, (head + 1) | 0);
  netConn.flush();
  out.ringGarbage = await attempt(async () => unwrap(await badReply, "garbage slot"));

  // ---- and everything still serves ----
  const status = async (c: ClientConnection) =>
    parseJson<ServerStatus>(unwrap(await c.call(Label.STATUS), "status"));
  const echo = async (c: ClientConnection) =>
    new TextDecoder().decode(
      unwrap(await c.call(Label.ECHO, new TextEncoder().encode("still here")), "echo"),
    );
  const serving: Record<string, Outcome> = {};
  for (const [name, c] of [["memory", memoryConn], ["fs", fsConn], ["net", netConn]] as const) {
    serving[`${name}Status`] = await attempt(async () => {
      const s = await status(c);
      return { name: s.name, resumed: s.resumed };
    });
    serving[`${name}Echo`] = await attempt(() => echo(c));
  }
  serving.memoryAlloc = await attempt(async () => {
    const o = await memory.alloc(16);
    await memory.write(o.id, 0, new Uint8Array([1, 2, 3]));
    const back = [...await memory.read(o.id, 0, 3)];
    await memory.free(o.id);
    return back;
  });
  serving.fsRead = await attempt(async () => new TextDecoder().decode(await fs.pread(fd, 0, 64)));
  serving.pmoCreate = await attempt(async () => (await sys.capInfo(await sys.pmoCreate(1))).kind);
  out.serving = serving;
  return out;
}

/** Messages that crashed the kernel (a throw outside its try) when this test was written. */
async function crash(ctx: Context): Promise<Record<string, unknown>> {
  const post = (ctx.sys as unknown as SysInternals).post;
  post({ t: "log", text: { toString: 1 } });
  const out: Record<string, unknown> = {
    objectOp: await attempt(() => postRaw(ctx.sys, { op: { toString: 1 }, args: [] })),
    bigintOp: await attempt(() => postRaw(ctx.sys, { op: 5n, args: [] })),
  };
  out.channelStillAnswers = await attempt(async () => (await ctx.sys.systemInfo()).threadId);
  return out;
}

runProgram((ctx) => {
  if (ctx.resumed) return;
  // `?stall=1`: a start-up that never finishes (the other ignored test in isolation_test.ts).
  if (ctx.args.stall) return new Promise<void>(() => {});
  // After main has returned, so that checkpoints (and everyone's console output) go on.
  setTimeout(async () => {
    try {
      if (ctx.args.crash) ctx.print(`hostile-crash ${JSON.stringify(await crash(ctx))}`);
      else ctx.print(`hostile ${JSON.stringify(await hostile(ctx))}`);
    } catch (e) {
      ctx.print(`hostile-failed ${errorName(e)} ${e instanceof Error ? e.message : ""}`);
    }
  }, 0);
});
