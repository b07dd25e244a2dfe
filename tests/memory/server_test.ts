/**
 * The memory server and the file server on a real machine: boots a fresh
 * image with the test program tests/programs/memtest.ts as an app (CALL
 * capabilities named "memory" and "fs"; tests/programs/owner.ts beside it
 * owns the object it may not touch), checks every outcome it
 * prints, then cuts the power (SIGKILL), boots again from the image and
 * checks that what the program left in the memory server survived.
 *
 * The app is named "memtest" when servers/init/config.ts lists it in APPS,
 * else it is started by its path (init gives a program under tests/programs/
 * a capability to every service, in SERVICES order: memory 3, fs 4).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Err, type TardigradeError } from "../../kernel/abi/errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../kernel/abi/limits.ts";
import {
  DATA_BYTES_MAX,
  decodeInfo,
  decodeUsage,
  encodeInfo,
  encodePointer,
  encodeRead,
  encodeUsage,
  encodeWrite,
  ID_BYTES,
  idFromBytes,
  idToBytes,
  isNullId,
  POINTER_BYTES,
} from "../../servers/memory/protocol.ts";
import { PayloadReader } from "../../kernel/abi/payload.ts";
import { APPS } from "../../servers/init/config.ts";
import { ConsoleView, MachineProcess } from "../../tools/machine_process.ts";

const APP = "memtest" in APPS ? "memtest" : "tests/programs/memtest.ts";

type Outcome = { ok: unknown } | { err: string };

/** Resolves with the rest of the first complete console line starting with `prefix`. */
async function consoleLine(m: MachineProcess, prefix: string, timeoutMs = 90_000): Promise<string> {
  const view = new ConsoleView();
  let found = "";
  await m.waitFor((l) => {
    if (l.t !== "console") return false;
    view.accept(l);
    for (const text of view.text.values()) {
      for (const line of text.split("\n").slice(0, -1)) {
        if (line.startsWith(prefix)) {
          found = line.slice(prefix.length);
          return true;
        }
      }
    }
    return false;
  }, timeoutMs);
  return found;
}

/** Compares each expected outcome, reporting every mismatch at once. */
function expectAll(got: Record<string, Outcome>, want: Record<string, Outcome>): void {
  const wrong: string[] = [];
  for (const [key, w] of Object.entries(want)) {
    const g = got[key];
    if (JSON.stringify(g) !== JSON.stringify(w)) {
      wrong.push(`${key}: got ${JSON.stringify(g)}, want ${JSON.stringify(w)}`);
    }
  }
  assert.deepEqual(wrong, [], `mismatches:\n${wrong.join("\n")}`);
}

const err = (code: string): Outcome => ({ err: code });
const ok = (v: unknown = null): Outcome => ({ ok: v });

Deno.test("memory protocol: ids, pointers and payloads encode and decode; bad ones are named", () => {
  const id = "0123456789abcdef00000007000000ff";
  assert.equal(idFromBytes(idToBytes(id)), id);
  assert.equal(idToBytes(id).length, ID_BYTES);
  assert.equal(isNullId(new Uint8Array(ID_BYTES)), true);
  const named = (code: Err) => (e: unknown) => (e as TardigradeError).code === code;
  assert.throws(() => idToBytes("xyz"), named(Err.E_BAD_ARGUMENT));
  const ptr = encodePointer({ id, offset: 12 });
  assert.equal(ptr.length, POINTER_BYTES);
  assert.equal(new DataView(ptr.buffer).getUint32(16, true), 12);
  assert.throws(() => encodePointer({ id, offset: -1 }), named(Err.E_BAD_ARGUMENT));
  const info = decodeInfo(encodeInfo(idToBytes(id), 123, 100, 4));
  assert.deepEqual(info, { id, ref: 123, size: 100, owner: 4 });
  assert.throws(() => decodeInfo(new Uint8Array(31)), named(Err.E_BAD_MESSAGE));
  const usage = { pages: 3, quota: Infinity, framePages: 512, frameQuota: 1024 };
  assert.deepEqual(decodeUsage(encodeUsage(usage)), usage);
  const r = new PayloadReader(encodeRead(id, 5, 6), "read");
  assert.equal(idFromBytes(r.bytes(ID_BYTES)), id);
  assert.equal(r.f64(), 5);
  assert.equal(r.f64(), 6);
  r.end();
  assert.throws(() => r.f64(), named(Err.E_BAD_MESSAGE));
  const bad = new PayloadReader(Uint8Array.of(0xff, 0xfe), "name");
  assert.throws(() => bad.restText(), named(Err.E_BAD_MESSAGE));
  assert.ok(
    encodeWrite(id, 0, new Uint8Array(DATA_BYTES_MAX)).length <= MESSAGE_PAYLOAD_BYTES_MAX,
    "a full WRITE fits one message",
  );
});

Deno.test(
  "memory server: objects, names, quotas, frames and files over IPC; state survives a power cut",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "tardigrade-memtest-" });
    const image = `${dir}/memtest.img`;
    let machine = MachineProcess.start(image, [
      "--fresh",
      "--apps",
      `tests/programs/owner.ts?quotaPages=64,${APP}`,
    ]);
    try {
      await machine.ready();
      const r = JSON.parse(await consoleLine(machine, "memtest ")) as Record<string, Outcome>;
      const badge = (r.badge as { ok: number }).ok;
      expectAll(r, {
        allocInfo: ok({ size: 100, ownerIsMe: true, idHex: true }),
        freshIsZero: ok(true),
        writeRead: ok("hello memory"),
        resolve: ok({ size: 100, delta: 10 }),
        resolvePastEnd: err("E_BAD_ARGUMENT"),
        readPastEnd: err("E_BAD_ARGUMENT"),
        writePastEnd: err("E_BAD_ARGUMENT"),
        readTooLong: err("E_BAD_ARGUMENT"),
        readNegativeOffset: err("E_BAD_ARGUMENT"),
        free: ok(),
        doubleFree: err("E_DOUBLE_FREE"),
        readAfterFree: err("E_NOT_FOUND"),
        resolveAfterFree: err("E_NOT_FOUND"),
        freeUnknownSlot: err("E_NOT_FOUND"),
        readUnknownId: err("E_NOT_FOUND"),
        freeBadHex: err("E_BAD_ARGUMENT"),
        largeObject: ok(true),
        allocZero: err("E_BAD_ARGUMENT"),
        allocNegative: err("E_BAD_ARGUMENT"),
        allocFraction: err("E_BAD_ARGUMENT"),
        allocNaN: err("E_BAD_ARGUMENT"),
        allocHuge: err("E_BAD_ARGUMENT"),
        allocJustOver: err("E_BAD_ARGUMENT"),
        createZero: err("E_BAD_ARGUMENT"),
        malformedAlloc: err("E_BAD_MESSAGE"),
        malformedAllocLong: err("E_BAD_MESSAGE"),
        malformedFree: err("E_BAD_MESSAGE"),
        malformedResolve: err("E_BAD_MESSAGE"),
        malformedRead: err("E_BAD_MESSAGE"),
        malformedName: err("E_BAD_MESSAGE"),
        malformedUsage: err("E_BAD_MESSAGE"),
        unknownLabel: err("E_NOT_SUPPORTED"),
        stillServing: ok(8),
        nameCreate: ok({ size: 64, ownerIsMe: true }),
        nameExists: err("E_EXISTS"),
        nameOpen: ok(true),
        nameEmpty: err("E_BAD_ARGUMENT"),
        nameTooLong: err("E_BAD_ARGUMENT"),
        nameDelete: ok(),
        nameOpenDeleted: err("E_NOT_FOUND"),
        nameDeleteAgain: err("E_NOT_FOUND"),
        nameIdFreed: err("E_NOT_FOUND"),
        fsWriteRead: ok("hello world"),
        foreignOwner: ok(true),
        foreignFree: err("E_NOT_OWNER"),
        foreignRead: err("E_NOT_OWNER"),
        foreignWrite: err("E_NOT_OWNER"),
        foreignDelete: err("E_NOT_OWNER"),
        foreignResolve: ok(16),
        quotaExhausted: err("E_NO_MEMORY"),
        quotaAgain: err("E_NO_MEMORY"),
        otherBadgeUnaffected: ok(true),
        quotaRecovered: ok(true),
        fsDelete: ok(),
        fsDeleteAgain: err("ENOENT"),
        frame4kDistinct: ok(true),
        frameFree4k: ok(),
        frameDoubleFree4k: err("E_DOUBLE_FREE"),
        frameFree4kSecond: ok(),
        frameFreeNever: err("E_NOT_FOUND"),
        frameFreeNegative: err("E_BAD_ARGUMENT"),
        frameFreeOutOfRange: err("E_BAD_ARGUMENT"),
        frame2mAligned: ok(true),
        frameUsage2m: ok(512),
        frameFree4kOfHuge: err("E_BAD_ARGUMENT"),
        frameFree2mUnaligned: err("E_BAD_ARGUMENT"),
        frame2mSecond: ok(true),
        frame2mOverQuota: err("E_NO_MEMORY"),
        frameFree2mSecond: ok(),
        frameFree2m: ok(),
        frameDoubleFree2m: err("E_DOUBLE_FREE"),
        persistSetup: ok(true),
        stats: ok({ check: "ok", resumed: false, owners: true }),
      });
      assert.deepEqual(typeof badge, "number");
      // The quota: 256 pages of 64 KiB objects (16 pages each), less what was in use.
      const before = (r.usageBefore as { ok: { pages: number; quota: number } }).ok;
      assert.deepEqual(before.quota, 256);
      const full = (r.usageFull as { ok: { pages: number; quota: number } }).ok;
      assert.deepEqual(full.quota, 256);
      assert.deepEqual(full.pages <= 256 && full.pages > 256 - 16, true, `usage ${full.pages}`);
      assert.deepEqual(
        (r.quotaBigAllocs as { ok: number }).ok,
        Math.floor((256 - before.pages) / 16),
      );
      assert.deepEqual(r.usageAfterFree, ok(before.pages));

      // Power cut after the output was released: the state that produced it is committed.
      await machine.kill();
      machine = MachineProcess.start(image, []);
      const ready = await machine.ready();
      assert.deepEqual(ready.resumed, true);
      const again = JSON.parse(await consoleLine(machine, "memtest-resume ")) as Record<
        string,
        Outcome
      >;
      expectAll(again, {
        persistOpen: ok(64),
        anonRead: ok("anon-obj"),
        anonFree: ok(),
        persistDelete: ok(),
        fileRead: ok("survives the stop"),
        fileStat: ok(17),
        fileDelete: ok(),
        stats: ok({ check: "ok", resumed: true }),
      });
      // "persist-me", then the id of the anonymous object it kept.
      const persisted = (again.persistRead as { ok?: string }).ok ??
        JSON.stringify(again.persistRead);
      assert.deepEqual(/^persist-me[0-9a-f]{32}$/.test(persisted), true, persisted);
      await machine.shutdown();
    } finally {
      await machine.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
