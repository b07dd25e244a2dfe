/**
 * The object table: records round-trip through the kernel memory object,
 * a record that could outgrow its slot is refused when it is made (not at
 * the next checkpoint), object quotas are charged and given back, and the
 * index by kind stays the records of that kind through creates, removes,
 * recycled ids and a load.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { KERNEL_PMO_PAGES } from "../../kernel/abi/image_root.ts";
import { ObjectTable } from "../../kernel/object_table.ts";
import { ObjKind } from "../../kernel/objects/records.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";

function group(table: ObjectTable, quotaObjects: number) {
  return table.create(ObjKind.CAP_GROUP, {
    name: "g",
    vmSpace: 0,
    quotaPages: 1,
    usedPages: 0,
    quotaObjects,
    usedObjects: 0,
  });
}

Deno.test("object table: the largest thread record the system calls allow fits and round-trips", () => {
  const table = new ObjectTable();
  const g = group(table, 10);
  const thread = table.create(ObjKind.THREAD, {
    group: g.id,
    program: `tests/programs/${"a".repeat(78)}.ts`, // 96 characters: thread_create's limit
    args: { x: "y".repeat(120) }, // 128 bytes of JSON: thread_create's limit
    policy: "system-rollback",
    consolePmo: 16383,
    restarts: 8,
  }, g.id);
  const arena = new PersistentMemory(allocatePmoBuffers(0, KERNEL_PMO_PAGES));
  table.flush(arena);
  const loaded = ObjectTable.load(arena);
  assert.deepEqual(loaded.get(thread.id), thread);
  assert.deepEqual(loaded.get(g.id), g);
});

Deno.test("object table: a record that could outgrow its slot is refused with E_LIMIT when made", () => {
  const table = new ObjectTable();
  assert.throws(
    () =>
      table.create(ObjKind.CAP_GROUP, {
        name: "n".repeat(600),
        vmSpace: 0,
        quotaPages: 1,
        usedPages: 0,
        quotaObjects: 1,
        usedObjects: 0,
      }),
    (e: unknown) => e instanceof TardigradeError && e.code === Err.E_LIMIT,
  );
  assert.equal(table.size, 0, "nothing was created");
});

Deno.test("object table: records charged to a group count against its quota until removed", () => {
  const table = new ObjectTable();
  const g = group(table, 2);
  const a = table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 }, g.id);
  table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 }, g.id);
  assert.equal(g.usedObjects, 2);
  assert.throws(
    () => table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 }, g.id),
    (e: unknown) => e instanceof TardigradeError && e.code === Err.E_NO_MEMORY,
  );
  assert.equal(table.size, 3, "the refused record was not created");
  table.remove(a.id);
  assert.equal(g.usedObjects, 1, "removing a record gives its charge back");
  table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 }, g.id);
  assert.equal(g.usedObjects, 2);
});

/** The ids `ofKind(kind)` yields, and the ids of every record of `kind` found by looking at all. */
function kindIds(table: ObjectTable, kind: ObjKind, highest: number): [number[], number[]] {
  const indexed = [...table.ofKind(kind)].map((r) => r.id);
  const all: number[] = [];
  for (let id = 1; id <= highest; id++) if (table.get(id)?.kind === kind) all.push(id);
  return [indexed.sort((a, b) => a - b), all];
}

Deno.test("object table: ofKind yields exactly the live records of a kind, after removes, recycled ids and a load", () => {
  const table = new ObjectTable();
  const ids: number[] = [];
  for (let i = 0; i < 30; i++) {
    const r = i % 3 === 0
      ? table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 })
      : table.create(ObjKind.VM_SPACE, { group: i });
    ids.push(r.id);
  }
  for (const id of ids.filter((_, i) => i % 4 === 0)) table.remove(id);
  const arena = new PersistentMemory(allocatePmoBuffers(0, KERNEL_PMO_PAGES));
  table.flush(arena); // removed ids are free now: the next creates recycle them, of other kinds
  const recycled = [
    table.create(ObjKind.NOTIFICATION, { pmo: 0, boundThread: 0, boundSlot: 0 }),
    table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 }),
  ];
  assert.ok(recycled.every((r) => ids.includes(r.id)), "the new records took recycled ids");
  const iterated = [...table.ofKind(ObjKind.ENDPOINT)];
  for (const r of iterated) table.remove(r.id); // removing while iterating a copy is safe
  table.create(ObjKind.ENDPOINT, { server: 1, serverSlot: 2 });
  for (const kind of [ObjKind.ENDPOINT, ObjKind.VM_SPACE, ObjKind.NOTIFICATION, ObjKind.CAP]) {
    const [indexed, all] = kindIds(table, kind, 40);
    assert.deepEqual(indexed, all, `${ObjKind[kind]} in the live table`);
  }
  table.flush(arena);
  const loaded = ObjectTable.load(arena);
  for (const kind of [ObjKind.ENDPOINT, ObjKind.VM_SPACE, ObjKind.NOTIFICATION, ObjKind.CAP]) {
    const [indexed, all] = kindIds(loaded, kind, 40);
    assert.deepEqual(indexed, all, `${ObjKind[kind]} in the loaded table`);
    assert.deepEqual(indexed, kindIds(table, kind, 40)[0], `${ObjKind[kind]} as it was saved`);
  }
  assert.ok([...loaded.ofKind(ObjKind.VM_SPACE)].every((r) => r.kind === ObjKind.VM_SPACE));
});
