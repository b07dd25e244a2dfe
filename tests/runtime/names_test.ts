/**
 * Named capabilities (servers/runtime/names.ts) in one thread: names given
 * in the start args, names kept in a slot record and found again by a new
 * reader over the same memory (what a resumed program sees), and the errors
 * for a missing name, a bad table and a full record.
 *
 * Run: `deno test --allow-read tests/runtime/names_test.ts`.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { givenCaps, RECORD_ENTRIES_MAX, SlotNames } from "../../servers/runtime/names.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";

const hasCode = (code: Err) => (e: unknown) => e instanceof TardigradeError && e.code === code;

Deno.test("names: a kept slot is found again by a reader of the same record, as after a resume", () => {
  const buffers = allocatePmoBuffers(1, 1);
  const first = new SlotNames({ fs: 4 }, new PersistentMemory(buffers), "app");
  assert.equal(first.get("pmo:state"), undefined, "a fresh record holds nothing");
  first.remember("pmo:state", 9);
  first.remember("conn:fs", 10);
  first.remember("conn:fs", 11);
  const resumed = new SlotNames({ fs: 4 }, new PersistentMemory(buffers), "app");
  assert.equal(resumed.cap("fs"), 4, "given names come from the start args");
  assert.equal(resumed.cap("pmo:state"), 9);
  assert.equal(resumed.cap("conn:fs"), 11, "remembering a name again replaces its slot");
  assert.deepEqual(resumed.names(), ["fs", "pmo:state", "conn:fs"]);
});

Deno.test("names: a missing name is E_NOT_FOUND naming what the program has", () => {
  const names = new SlotNames({ memory: 3 }, null, "app");
  assert.throws(() => names.cap("fs"), (e: unknown) => {
    assert.ok(hasCode(Err.E_NOT_FOUND)(e));
    assert.match((e as Error).message, /no capability named "fs" \(it has: memory\)/);
    return true;
  });
  assert.throws(() => names.remember("pmo:state", 5), hasCode(Err.E_NOT_FOUND), "no record");
});

Deno.test("names: a bad caps table, a bad name and a full record are refused", () => {
  assert.deepEqual(givenCaps({ caps: { fs: 4 } }, "app"), { fs: 4 });
  assert.deepEqual(givenCaps({}, "app"), {});
  assert.throws(() => givenCaps({ caps: { fs: "4" } }, "app"), hasCode(Err.E_BAD_ARGUMENT));
  assert.throws(() => givenCaps({ caps: [4] }, "app"), hasCode(Err.E_BAD_ARGUMENT));
  const names = new SlotNames({}, new PersistentMemory(allocatePmoBuffers(1, 1)), "app");
  assert.throws(() => names.remember("", 1), hasCode(Err.E_BAD_ARGUMENT));
  assert.throws(() => names.remember("x".repeat(28), 1), hasCode(Err.E_BAD_ARGUMENT));
  for (let i = 0; i < RECORD_ENTRIES_MAX; i++) names.remember(`n${i}`, i);
  assert.throws(() => names.remember("one-more", 1), hasCode(Err.E_LIMIT));
  assert.equal(names.cap(`n${RECORD_ENTRIES_MAX - 1}`), RECORD_ENTRIES_MAX - 1);
});
