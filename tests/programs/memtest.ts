/**
 * Test program: the memory server (and the file server, briefly), driven
 * from inside a running machine over real IPC. Started by
 * tests/memory/server_test.ts as an app with CALL capabilities named
 * "memory" and "fs", beside tests/programs/owner.ts (another owner whose
 * object it tries to touch). Prints one
 * line `memtest {json}` with the outcome of every check (a value, or the
 * name of the error code), which the test compares with what it expects.
 *
 * It leaves behind a named object "memtest:persist" (holding the id of an
 * anonymous object it also keeps) and a file "/persist.txt". On resume it
 * connects again, reads both back, frees what it owns and prints
 * `memtest-resume {json}`.
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { Label, type ServerStatus } from "../../servers/protocol.ts";
import { parseJson, unwrap } from "../../servers/runtime/ipc.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { attempt, type Outcome } from "./_outcome.ts";
import { MemoryClient } from "../../servers/memory/client.ts";
import { MemLabel } from "../../servers/memory/protocol.ts";
import { FsClient } from "../../servers/runtime/fs.ts";
import { OWNER_OBJECT, ownerObject } from "./_owner_object.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (b: Uint8Array) => dec.decode(b);

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

runProgram(async (ctx) => {
  const memory = new MemoryClient(await ctx.connect(ctx.cap("memory")));
  const fs = new FsClient(await ctx.connect(ctx.cap("fs")));
  const r: Record<string, Outcome> = {};

  if (ctx.resumed) {
    // What the first run left must have survived the stop.
    r.persistOpen = await attempt(async () => (await memory.open("memtest:persist")).size);
    r.persistRead = await attempt(async () => {
      const p = await memory.open("memtest:persist");
      return text(await memory.read(p.id, 0, 42));
    });
    r.anonRead = await attempt(async () => {
      const p = await memory.open("memtest:persist");
      const anonId = text(await memory.read(p.id, 10, 32));
      return text(await memory.read(anonId, 0, 8));
    });
    r.anonFree = await attempt(async () => {
      const p = await memory.open("memtest:persist");
      await memory.free(text(await memory.read(p.id, 10, 32)));
    });
    r.persistDelete = await attempt(() => memory.deleteName("memtest:persist"));
    r.fileRead = await attempt(async () => text(await fs.readFile("/persist.txt")));
    r.fileStat = await attempt(async () => (await fs.stat("/persist.txt")).size);
    r.fileDelete = await attempt(() => fs.unlink("/persist.txt"));
    r.usageAfter = await attempt(async () => (await memory.usage()).pages);
    r.stats = await attempt(async () => {
      const s = await memory.stats();
      return { check: s.check, resumed: s.resumed };
    });
    ctx.print(`memtest-resume ${JSON.stringify(r)}`);
    return;
  }

  // ---- who am I ----
  const status = parseJson<ServerStatus>(unwrap(await memory.conn.call(Label.STATUS), "status"));
  const badge = status.badge;
  r.badge = { ok: badge };

  // ---- alloc / write / read / resolve / free ----
  const a = await memory.alloc(100);
  r.allocInfo = {
    ok: { size: a.size, ownerIsMe: a.owner === badge, idHex: /^[0-9a-f]{32}$/.test(a.id) },
  };
  r.freshIsZero = await attempt(async () =>
    (await memory.read(a.id, 0, 100)).every((v) => v === 0)
  );
  r.writeRead = await attempt(async () => {
    await memory.write(a.id, 10, enc.encode("hello memory"));
    return text(await memory.read(a.id, 10, 12));
  });
  r.resolve = await attempt(async () => {
    const p0 = await memory.resolve({ id: a.id, offset: 0 });
    const p10 = await memory.resolve({ id: a.id, offset: 10 });
    return { size: p10.size, delta: p10.offset - p0.offset };
  });
  r.resolvePastEnd = await attempt(() => memory.resolve({ id: a.id, offset: 100 }));
  r.readPastEnd = await attempt(() => memory.read(a.id, 90, 20));
  r.writePastEnd = await attempt(() => memory.write(a.id, 95, new Uint8Array(10)));
  r.readTooLong = await attempt(() => memory.read(a.id, 0, 961));
  r.readNegativeOffset = await attempt(() => memory.read(a.id, -1, 4));
  r.free = await attempt(() => memory.free(a.id));
  r.doubleFree = await attempt(() => memory.free(a.id));
  r.readAfterFree = await attempt(() => memory.read(a.id, 0, 4));
  r.resolveAfterFree = await attempt(() => memory.resolve({ id: a.id, offset: 0 }));
  // An id of this heap for a slot never used, and an id of another heap instance.
  const unknownSlot = a.id.slice(0, 24) + "0fffffff";
  r.freeUnknownSlot = await attempt(() => memory.free(unknownSlot));
  r.readUnknownId = await attempt(() => memory.read("0123456789abcdef0123456789abcdef", 0, 1));
  r.freeBadHex = await attempt(() => memory.free("not-an-id"));

  // ---- large objects ----
  r.largeObject = await attempt(async () => {
    const big = await memory.alloc(65536);
    const data = pattern(960, 7);
    await memory.write(big.id, 65536 - 960, data);
    const back = await memory.read(big.id, 65536 - 960, 960);
    await memory.free(big.id);
    return same(back, data);
  });

  // ---- bad sizes ----
  r.allocZero = await attempt(() => memory.alloc(0));
  r.allocNegative = await attempt(() => memory.alloc(-1));
  r.allocFraction = await attempt(() => memory.alloc(1.5));
  r.allocNaN = await attempt(() => memory.alloc(NaN));
  r.allocHuge = await attempt(() => memory.alloc(2 ** 40));
  r.allocJustOver = await attempt(() => memory.alloc(65537));
  r.createZero = await attempt(() => memory.create("memtest:zero", 0));

  // ---- malformed payloads, straight through the connection ----
  const raw = async (label: number, payload: Uint8Array) =>
    unwrap(await memory.conn.call(label, payload), `raw ${label}`);
  r.malformedAlloc = await attempt(() => raw(MemLabel.ALLOC, new Uint8Array(3)));
  r.malformedAllocLong = await attempt(() => raw(MemLabel.ALLOC, new Uint8Array(9)));
  r.malformedFree = await attempt(() => raw(MemLabel.FREE, new Uint8Array(5)));
  r.malformedResolve = await attempt(() => raw(MemLabel.RESOLVE, new Uint8Array(23)));
  r.malformedRead = await attempt(() => raw(MemLabel.READ, new Uint8Array(16)));
  r.malformedName = await attempt(() => raw(MemLabel.NAME_OPEN, Uint8Array.of(0xff, 0xfe)));
  r.malformedUsage = await attempt(() => raw(MemLabel.USAGE, new Uint8Array(1)));
  r.unknownLabel = await attempt(() => raw(99, new Uint8Array(0)));
  r.stillServing = await attempt(async () => (await memory.alloc(8)).size);

  // ---- names ----
  const n1 = await memory.create("memtest:a", 64);
  r.nameCreate = { ok: { size: n1.size, ownerIsMe: n1.owner === badge } };
  r.nameExists = await attempt(() => memory.create("memtest:a", 64));
  r.nameOpen = await attempt(async () => (await memory.open("memtest:a")).id === n1.id);
  r.nameEmpty = await attempt(() => memory.create("", 8));
  r.nameTooLong = await attempt(() => memory.create("x".repeat(65), 8));
  r.nameDelete = await attempt(() => memory.deleteName("memtest:a"));
  r.nameOpenDeleted = await attempt(() => memory.open("memtest:a"));
  r.nameDeleteAgain = await attempt(() => memory.deleteName("memtest:a"));
  r.nameIdFreed = await attempt(() => memory.read(n1.id, 0, 1));

  // ---- the file server, briefly (tests/fs/ has the rest) ----
  r.fsWriteRead = await attempt(async () => {
    await fs.writeFile("/hello.txt", enc.encode("hello world"));
    return text(await fs.readFile("/hello.txt"));
  });

  // ---- what another badge owns: tests/programs/owner.ts's object ----
  const theirs = await ownerObject(memory);
  r.foreignOwner = { ok: theirs.owner !== badge };
  r.foreignFree = await attempt(() => memory.free(theirs.id));
  r.foreignRead = await attempt(() => memory.read(theirs.id, 0, 4));
  r.foreignWrite = await attempt(() => memory.write(theirs.id, 0, new Uint8Array(4)));
  r.foreignDelete = await attempt(() => memory.deleteName(OWNER_OBJECT));
  r.foreignResolve = await attempt(async () =>
    (await memory.resolve({ id: theirs.id, offset: 0 })).size
  );

  // ---- quota: this badge runs out, the file server does not ----
  const before = await memory.usage();
  r.usageBefore = { ok: before };
  const bigs: string[] = [];
  let exhaustion: Outcome = { ok: "never ran out" };
  for (let i = 0; i < 64; i++) {
    try {
      bigs.push((await memory.alloc(65536)).id);
    } catch (e) {
      exhaustion = { err: e instanceof TardigradeError ? e.codeName : String(e) };
      break;
    }
  }
  r.quotaExhausted = exhaustion;
  r.quotaBigAllocs = { ok: bigs.length };
  r.usageFull = await attempt(() => memory.usage());
  r.quotaAgain = await attempt(() => memory.alloc(65536));
  r.otherBadgeUnaffected = await attempt(async () => {
    await fs.writeFile("/during-exhaustion.txt", pattern(900, 9));
    return same(await fs.readFile("/during-exhaustion.txt"), pattern(900, 9));
  });
  for (const id of bigs) await memory.free(id);
  r.quotaRecovered = await attempt(async () => {
    const x = await memory.alloc(65536);
    await memory.free(x.id);
    return true;
  });
  r.usageAfterFree = await attempt(async () => (await memory.usage()).pages);
  r.fsDelete = await attempt(() => fs.unlink("/during-exhaustion.txt"));
  r.fsDeleteAgain = await attempt(() => fs.unlink("/during-exhaustion.txt"));

  // ---- frames ----
  const f1 = await memory.frameAlloc4k();
  const f2 = await memory.frameAlloc4k();
  r.frame4kDistinct = { ok: f1 !== f2 };
  r.frameFree4k = await attempt(() => memory.frameFree4k(f1));
  r.frameDoubleFree4k = await attempt(() => memory.frameFree4k(f1));
  r.frameFree4kSecond = await attempt(() => memory.frameFree4k(f2));
  r.frameFreeNever = await attempt(() => memory.frameFree4k(16000));
  r.frameFreeNegative = await attempt(() => memory.frameFree4k(-1));
  r.frameFreeOutOfRange = await attempt(() => memory.frameFree4k(1e9));
  const h = await memory.frameAlloc2m();
  r.frame2mAligned = { ok: h % 512 === 0 };
  r.frameUsage2m = await attempt(async () => (await memory.usage()).framePages);
  r.frameFree4kOfHuge = await attempt(() => memory.frameFree4k(h + 1));
  r.frameFree2mUnaligned = await attempt(() => memory.frameFree2m(h + 1));
  const h2 = await attempt(() => memory.frameAlloc2m());
  r.frame2mSecond = "ok" in h2 ? { ok: h2.ok !== h } : h2;
  r.frame2mOverQuota = await attempt(() => memory.frameAlloc2m());
  if ("ok" in h2) r.frameFree2mSecond = await attempt(() => memory.frameFree2m(h2.ok as number));
  r.frameFree2m = await attempt(() => memory.frameFree2m(h));
  r.frameDoubleFree2m = await attempt(() => memory.frameFree2m(h));

  // ---- what stays for the resume ----
  r.persistSetup = await attempt(async () => {
    const anon = await memory.alloc(16);
    await memory.write(anon.id, 0, enc.encode("anon-obj"));
    const p = await memory.create("memtest:persist", 64);
    await memory.write(p.id, 0, enc.encode("persist-me"));
    await memory.write(p.id, 10, enc.encode(anon.id));
    await fs.writeFile("/persist.txt", enc.encode("survives the stop"));
    return true;
  });

  r.stats = await attempt(async () => {
    const s = await memory.stats();
    return { check: s.check, resumed: s.resumed, owners: s.heap.owners >= 2 };
  });
  ctx.print(`memtest ${JSON.stringify(r)}`);
});
