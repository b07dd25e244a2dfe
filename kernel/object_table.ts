/**
 * The kernel object table: every kernel object by id, with change tracking.
 *
 * Map of this file:
 * - {@link ObjectTable}: create / get / update / remove records; ids are
 *   recycled; every change puts the id in a dirty set; an index by kind
 *   (`ofKind`) is kept with every create and remove and rebuilt by `load`. `checkRoom` and
 *   `checkFits` are a creating call's decode step: they throw what `create`
 *   would, changing nothing.
 * - `flush()`: at a checkpoint, writes each changed record into its fixed
 *   slot of the kernel memory object (RECORD_BYTES per id) and reports the
 *   time spent per kind. Unchanged objects cost nothing.
 * - `ObjectTable.load()`: at resume, decodes every slot of the kernel memory
 *   object back into records.
 *
 * Kernel state is itself memory (Twizzler): after `flush()`, capturing the
 * kernel is the same operation as capturing any PMO's dirty pages.
 *
 * @module
 */

import { KERNEL_PMO_PAGES } from "./abi/image_root.ts";
import { assert, Err, TardigradeError } from "./abi/errors.ts";
import { PAGE_BYTES, RECORD_BYTES, RECORD_GROWTH_BYTES, RECORDS_MAX } from "./abi/limits.ts";
import type { PersistentMemory } from "./abi/pmem.ts";
import { type KernelRecord, OBJ_KIND_COUNT, ObjKind, type RecordOf } from "./objects/records.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** All kernel objects, with the set changed since the last checkpoint. */
export class ObjectTable {
  private readonly records = new Map<number, KernelRecord>();
  /** Ids of the live records of each kind, by kind number, in creation order. */
  private readonly byKind: Array<Set<number>> = Array.from(
    { length: OBJ_KIND_COUNT },
    () => new Set(),
  );
  private readonly dirty = new Set<number>();
  private readonly freeIds: number[] = [];
  private nextId = 1;

  /**
   * Creates a record of `kind` with a fresh id; throws E_LIMIT when the table
   * is full. With `chargeTo` (a cap group id) the record counts against that
   * group's object quota until it is removed: E_NO_MEMORY when it is used up.
   */
  create<K extends ObjKind>(
    kind: K,
    fields: Omit<RecordOf<K>, "id" | "kind" | "charged">,
    chargeTo = 0,
  ): RecordOf<K> {
    this.checkRoom([chargeTo]);
    this.checkFits(kind, fields, chargeTo);
    if (chargeTo !== 0) this.charge(chargeTo, 1);
    const id = this.freeIds.pop() ?? this.nextId++;
    const record = {
      ...fields,
      id,
      kind,
      ...(chargeTo !== 0 ? { charged: chargeTo } : {}),
    } as RecordOf<K>;
    this.records.set(id, record);
    this.byKind[kind].add(id);
    this.dirty.add(id);
    return record;
  }

  /**
   * The decode step of a call that creates records: throws what `create`
   * would for them, changing nothing. `chargeTos` holds one entry per new
   * record, the cap group it will be charged to (0: the kernel's own).
   * E_LIMIT when the table has too few free ids; E_NO_MEMORY when a group's
   * object quota has too few left.
   */
  checkRoom(chargeTos: readonly number[]): void {
    const free = this.freeIds.length + Math.max(0, RECORDS_MAX - this.nextId);
    if (free < chargeTos.length) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `object table: ${RECORDS_MAX - 1 - free} of its ${
          RECORDS_MAX - 1
        } kernel objects are in use, ${chargeTos.length} more do not fit; delete some`,
        { limit: RECORDS_MAX - 1, free, asked: chargeTos.length },
      );
    }
    const perGroup = new Map<number, number>();
    for (const g of chargeTos) if (g !== 0) perGroup.set(g, (perGroup.get(g) ?? 0) + 1);
    for (const [g, n] of perGroup) this.checkQuota(g, n);
  }

  /**
   * Throws E_LIMIT, changing nothing, when a record of `kind` with `fields`
   * could outgrow its slot: refused in the call that makes it, not at the next
   * checkpoint (numbers in it may still grow: a margin is kept for them).
   */
  checkFits<K extends ObjKind>(
    kind: K,
    fields: Omit<RecordOf<K>, "id" | "kind" | "charged">,
    chargeTo = 0,
  ): void {
    const bytes = encoder.encode(
      JSON.stringify({ ...fields, id: RECORDS_MAX, kind, charged: chargeTo }),
    );
    if (bytes.length > RECORD_BYTES - 4 - RECORD_GROWTH_BYTES) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `a ${ObjKind[kind]} record would need ${bytes.length} bytes, over the ${
          RECORD_BYTES - 4 - RECORD_GROWTH_BYTES
        } a record may start with; shorten its name, program path or arguments`,
        { bytes: bytes.length },
      );
    }
  }

  /** The record with `id`, or undefined. */
  get(id: number): KernelRecord | undefined {
    return this.records.get(id);
  }

  /** The record with `id` of `kind`; throws E_NOT_FOUND or E_WRONG_KIND. */
  expect<K extends ObjKind>(id: number, kind: K): RecordOf<K> {
    const r = this.records.get(id);
    if (!r) throw new TardigradeError(Err.E_NOT_FOUND, `object ${id} does not exist`, { id });
    if (r.kind !== kind) {
      throw new TardigradeError(
        Err.E_WRONG_KIND,
        `object ${id} is a ${ObjKind[r.kind]}, not a ${ObjKind[kind]}`,
        { id, kind: ObjKind[r.kind], expected: ObjKind[kind] },
      );
    }
    return r as RecordOf<K>;
  }

  /** Applies `change` to a record and marks it changed. */
  update<R extends KernelRecord>(record: R, change: Partial<Omit<R, "id" | "kind">>): R {
    assert(this.records.get(record.id) === record, "ObjectTable.update", "stale record");
    const kind = record.kind;
    Object.assign(record, change);
    // The kind index is keyed by kind: a change may never carry one in.
    assert(record.kind === kind, "ObjectTable.update", `record ${record.id} changed its kind`);
    this.dirty.add(record.id);
    return record;
  }

  /** Removes a record (and its charge); its id is recycled after the next flush. */
  remove(id: number): void {
    const r = this.records.get(id);
    if (!r) return;
    this.records.delete(id);
    this.byKind[r.kind].delete(id);
    this.dirty.add(id);
    if (r.charged !== undefined) this.charge(r.charged, -1);
  }

  /** Adds `n` to a cap group's used objects; E_NO_MEMORY past its quota. */
  private charge(groupId: number, n: number): void {
    const g = this.records.get(groupId);
    if (!g || g.kind !== ObjKind.CAP_GROUP) return; // the group is gone: nothing to charge
    if (n > 0) this.checkQuota(groupId, n);
    this.update(g, { usedObjects: g.usedObjects + n });
  }

  /** E_NO_MEMORY when `n` more records do not fit cap group `groupId`'s object quota. */
  private checkQuota(groupId: number, n: number): void {
    const g = this.records.get(groupId);
    if (!g || g.kind !== ObjKind.CAP_GROUP) return; // the group is gone: nothing to charge
    if (g.usedObjects + n > g.quotaObjects) {
      throw new TardigradeError(
        Err.E_NO_MEMORY,
        `cap group "${g.name}" has ${g.usedObjects} of its ${g.quotaObjects} kernel objects in use, ${n} more do not fit; delete some`,
        { used: g.usedObjects, quota: g.quotaObjects, asked: n },
      );
    }
  }

  /**
   * Every record of `kind`, in creation order, from the index (the other
   * kinds' records are not visited). Records removed while iterating are
   * skipped; records created meanwhile are visited.
   */
  *ofKind<K extends ObjKind>(kind: K): IterableIterator<RecordOf<K>> {
    for (const id of this.byKind[kind]) yield this.records.get(id) as RecordOf<K>;
  }

  /** Kernel PMO pages that can hold records (every slot past them is empty): all a resume reads. */
  get pagesUsed(): number {
    return Math.ceil((this.nextId * RECORD_BYTES) / PAGE_BYTES);
  }

  /** Number of live records. */
  get size(): number {
    return this.records.size;
  }

  /** Number of records changed since the last flush. */
  get dirtyCount(): number {
    return this.dirty.size;
  }

  /**
   * Writes every changed record into `arena` (the kernel PMO) through the
   * write barrier. Returns microseconds spent per kind name (deleted records
   * count under "deleted").
   */
  flush(arena: PersistentMemory): Record<string, number> {
    const spent: Record<string, number> = {};
    for (const id of this.dirty) {
      const t0 = performance.now();
      const r = this.records.get(id);
      writeSlot(arena, id, r);
      const kind = r ? ObjKind[r.kind] : "deleted";
      spent[kind] = (spent[kind] ?? 0) + (performance.now() - t0) * 1000;
      if (!r) this.freeIds.push(id);
    }
    this.dirty.clear();
    return spent;
  }

  /**
   * Rebuilds a table from a kernel PMO written by {@link flush}, reading the
   * slots in its first `pagesUsed` pages (the checkpoint's {@link pagesUsed}:
   * the rest are empty). Nothing is dirty afterwards.
   */
  static load(arena: PersistentMemory, pagesUsed = KERNEL_PMO_PAGES): ObjectTable {
    const table = new ObjectTable();
    let highest = 0;
    const idBound = Math.min(Math.floor((pagesUsed * PAGE_BYTES) / RECORD_BYTES), RECORDS_MAX);
    for (let id = 1; id < idBound; id++) {
      const r = readSlot(arena, id);
      if (r) {
        table.records.set(id, r);
        table.byKind[r.kind].add(id);
        highest = id;
      }
    }
    table.nextId = highest + 1;
    for (let id = highest - 1; id >= 1; id--) if (!table.records.has(id)) table.freeIds.push(id);
    return table;
  }
}

function writeSlot(arena: PersistentMemory, id: number, r: KernelRecord | undefined): void {
  const at = id * RECORD_BYTES;
  if (!r) {
    arena.setU32(at, 0);
    return;
  }
  const json = encoder.encode(JSON.stringify(r));
  if (json.length > RECORD_BYTES - 4) {
    throw new TardigradeError(
      Err.E_LIMIT,
      `object ${id} (${ObjKind[r.kind]}) needs ${json.length} bytes, over the record size ${
        RECORD_BYTES - 4
      }; shorten its name or arguments`,
      { id, bytes: json.length },
    );
  }
  arena.write(at + 4, json);
  arena.setU32(at, json.length);
}

function readSlot(arena: PersistentMemory, id: number): KernelRecord | undefined {
  const at = id * RECORD_BYTES;
  const length = arena.getU32(at);
  if (length === 0) return undefined;
  if (length > RECORD_BYTES - 4) {
    throw new TardigradeError(Err.E_IMAGE_CORRUPT, `kernel record ${id} has length ${length}`, {
      id,
    });
  }
  const r = JSON.parse(decoder.decode(arena.read(at + 4, length))) as KernelRecord;
  assert(r.id === id, "ObjectTable.load", `record in slot ${id} names id ${r.id}`);
  if (!Number.isInteger(r.kind) || r.kind < 1 || r.kind >= OBJ_KIND_COUNT) {
    throw new TardigradeError(Err.E_IMAGE_CORRUPT, `kernel record ${id} has kind ${r.kind}`, {
      id,
    });
  }
  return r;
}
