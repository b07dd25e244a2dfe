/**
 * The persistent hash table (servers/pmem/table.ts):
 * seeded random inserts, updates and removals agree with a JS Map at every
 * step, through growing and shrinking; a full scan taken while the table
 * rehashes (and goes on growing and shrinking between steps) returns every
 * key present throughout; a random node is one of the keys.
 *
 * Run: `deno test tests/pmem/table_test.ts`.
 */

import assert from "node:assert/strict";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";
import { Prng } from "../../kernel/abi/prng.ts";
import { PersistentHeap } from "../../servers/pmem/heap.ts";
import { NODE_PAYLOAD, Tables } from "../../servers/pmem/table.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function setup(pages = 1024): { heap: PersistentHeap; tables: Tables } {
  const heap = PersistentHeap.format(new PersistentMemory(allocatePmoBuffers(1, pages)), 99);
  return { heap, tables: new Tables(heap) };
}

/** Every key of table `t`, by a full scan. */
function scanAll(tables: Tables, t: number): Set<string> {
  const seen = new Set<string>();
  let cursor = 0;
  do cursor = tables.scan(t, cursor, (n) => seen.add(str(tables.keyOf(t, n)))); while (
    cursor !== 0
  );
  return seen;
}

Deno.test("table: seeded random operations agree with a Map, through growth and shrinking", () => {
  const seed = 0x7ab1e;
  console.log(`table model seed ${seed}`);
  const random = new Prng(seed);
  const { heap, tables } = setup();
  const start = heap.usedBytes();
  const t = tables.create(4);
  const model = new Map<string, number>();
  let sawRehash = false;
  for (let op = 0; op < 20_000; op++) {
    const phase = Math.floor(op / 5000) % 2; // grow, then shrink, then grow…
    const key = `k${random.int(0, 3000)}`;
    const roll = random.int(0, 9);
    if (roll < (phase === 0 ? 6 : 2)) {
      const value = random.nextU32();
      const node = tables.upsert(t, text(key));
      assert.equal(tables.inserted, !model.has(key), `op ${op}: inserted ${key}`);
      heap.mem.setU32(node + NODE_PAYLOAD, value);
      model.set(key, value);
    } else if (roll < 8) {
      assert.equal(tables.remove(t, text(key)), model.delete(key), `op ${op}: remove ${key}`);
    } else {
      const node = tables.find(t, text(key));
      assert.equal(node === 0 ? undefined : heap.mem.getU32(node + NODE_PAYLOAD), model.get(key));
    }
    assert.equal(tables.count(t), model.size, `op ${op}`);
    sawRehash ||= tables.isRehashing(t);
  }
  assert.ok(sawRehash, "the run never rehashed");
  assert.deepEqual(scanAll(tables, t), new Set(model.keys()));
  tables.destroy(t);
  assert.equal(heap.usedBytes(), start);
});

Deno.test("table: a scan across an incremental rehash returns every key present throughout", () => {
  const { tables } = setup();
  const t = tables.create(0);
  const stay = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    tables.upsert(t, text(`stay${i}`));
    stay.add(`stay${i}`);
  }
  for (let i = 0; i < 25; i++) tables.upsert(t, text(`more${i}`)); // 1025 > 1024 buckets: grows
  assert.ok(tables.isRehashing(t), "not rehashing when the scan starts");
  const seen = new Set<string>();
  let cursor = 0;
  let step = 0;
  let rehashingSteps = 0;
  do {
    cursor = tables.scan(t, cursor, (n) => seen.add(str(tables.keyOf(t, n))));
    if (tables.isRehashing(t)) rehashingSteps++;
    // Between steps the table changes: it grows again, then shrinks back.
    if (step < 1500) tables.upsert(t, text(`grow${step}`));
    else if (step < 3000) tables.remove(t, text(`grow${step - 1500}`));
    step++;
  } while (cursor !== 0);
  assert.ok(rehashingSteps > 0, "no scan step ran during a rehash");
  for (const key of stay) assert.ok(seen.has(key), `${key} was not returned`);
});

Deno.test("table: a random node is a node of the table", () => {
  const { tables } = setup();
  const t = tables.create(0);
  assert.equal(tables.randomNode(t), 0);
  const keys = new Set<string>();
  for (let i = 0; i < 100; i++) {
    tables.upsert(t, text(`m${i}`));
    keys.add(`m${i}`);
  }
  const picked = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const key = str(tables.keyOf(t, tables.randomNode(t)));
    assert.ok(keys.has(key));
    picked.add(key);
  }
  assert.ok(picked.size > 50, `only ${picked.size} distinct keys in 500 picks`);
});
