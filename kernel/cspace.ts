/**
 * Capability spaces and the derivation tree.
 *
 * Map of this file:
 * - lookup: slot → capability, checked in the fixed order bad slot → empty
 *   slot → wrong kind → missing right (`lookup`).
 * - derive: `insertOriginal`, `derive` (copy and mint: fewer rights, badge);
 *   `freeSlot` and `checkFreeSlots` check room first, changing nothing.
 * - remove: `deleteCap` (one slot; its children are re-parented to nothing
 *   and stay), `revoke` (every capability derived from the target,
 *   recursively, bounded by the table size).
 *
 * Capabilities are CAP records in the object table; the slot tables and the
 * child index are volatile caches rebuilt by `CapSpaces.rebuild()` at resume.
 *
 * @module
 */

import { Err, TardigradeError } from "./abi/errors.ts";
import { CAP_SLOTS_MAX } from "./abi/limits.ts";
import { hasRights, isSubset, rightsToString } from "./abi/rights.ts";
import { describeArg } from "./args.ts";
import type { ObjectTable } from "./object_table.ts";
import { type CapRecord, type KernelRecord, ObjKind } from "./objects/records.ts";

/** A looked-up capability and the object it names. */
export interface Resolved<R extends KernelRecord = KernelRecord> {
  cap: CapRecord;
  obj: R;
}

/** Every cap group's slot table, and who derives from whom. */
export class CapSpaces {
  private readonly slots = new Map<number, Map<number, CapRecord>>();
  private readonly children = new Map<number, Set<number>>();

  constructor(private readonly table: ObjectTable) {}

  /** Rebuilds the caches from the CAP records (at resume). */
  rebuild(): void {
    this.slots.clear();
    this.children.clear();
    for (const cap of this.table.ofKind(ObjKind.CAP)) this.index(cap);
  }

  private index(cap: CapRecord): void {
    let space = this.slots.get(cap.group);
    if (!space) this.slots.set(cap.group, space = new Map());
    space.set(cap.slot, cap);
    if (cap.parent !== 0) {
      let kids = this.children.get(cap.parent);
      if (!kids) this.children.set(cap.parent, kids = new Set());
      kids.add(cap.id);
    }
  }

  /**
   * The capability in `slot` of `group`, checked in the fixed order: slot in
   * range, slot not empty, object of `kind` (if given), holding `rights`.
   */
  lookup<K extends ObjKind>(
    group: number,
    slot: unknown,
    kind: K | undefined,
    rights: number,
    call: string,
  ): Resolved<Extract<KernelRecord, { kind: K }>> {
    if (typeof slot !== "number" || !Number.isInteger(slot) || slot < 0 || slot >= CAP_SLOTS_MAX) {
      throw new TardigradeError(
        Err.E_BAD_SLOT,
        `${call}: slot ${describeArg(slot)} is not an integer in 0…${CAP_SLOTS_MAX - 1}`,
        { slot: describeArg(slot) },
      );
    }
    const cap = this.slots.get(group)?.get(slot);
    if (!cap) {
      throw new TardigradeError(
        Err.E_EMPTY_SLOT,
        `${call}: slot ${slot} holds no capability (never filled, deleted or revoked)`,
        { slot },
      );
    }
    const obj = this.table.get(cap.obj);
    if (!obj) {
      throw new TardigradeError(Err.E_EMPTY_SLOT, `${call}: slot ${slot} names a dead object`, {
        slot,
      });
    }
    if (kind !== undefined && obj.kind !== kind) {
      throw new TardigradeError(
        Err.E_WRONG_KIND,
        `${call}: slot ${slot} holds a ${ObjKind[obj.kind]} capability, not a ${ObjKind[kind]}`,
        { slot, kind: ObjKind[obj.kind], expected: ObjKind[kind] },
      );
    }
    if (!hasRights(cap.rights, rights)) {
      throw new TardigradeError(
        Err.E_NO_RIGHTS,
        `${call}: slot ${slot} has rights ${rightsToString(cap.rights)}, needs ${
          rightsToString(rights)
        }`,
        { slot, has: cap.rights, needs: rights },
      );
    }
    return { cap, obj: obj as Extract<KernelRecord, { kind: K }> };
  }

  /** The lowest free slot of `group`, or `wanted` if given and free; E_LIMIT / E_EXISTS otherwise. */
  freeSlot(group: number, wanted?: number): number {
    const space = this.slots.get(group);
    if (wanted !== undefined) {
      if (!Number.isInteger(wanted) || wanted < 0 || wanted >= CAP_SLOTS_MAX) {
        throw new TardigradeError(Err.E_BAD_SLOT, `destination slot ${wanted} is out of range`, {
          slot: wanted,
        });
      }
      if (space?.has(wanted)) {
        throw new TardigradeError(Err.E_EXISTS, `destination slot ${wanted} is already filled`, {
          slot: wanted,
        });
      }
      return wanted;
    }
    for (let s = 0; s < CAP_SLOTS_MAX; s++) if (!space?.has(s)) return s;
    throw new TardigradeError(
      Err.E_LIMIT,
      `cap group ${group} has all ${CAP_SLOTS_MAX} slots filled; delete some`,
      { group },
    );
  }

  /**
   * E_LIMIT, changing nothing, when `group` has fewer than `count` empty
   * slots: the decode step of a call that fills several.
   */
  checkFreeSlots(group: number, count: number): void {
    const free = CAP_SLOTS_MAX - (this.slots.get(group)?.size ?? 0);
    if (free < count) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `cap group ${group} has ${free} empty slots of ${CAP_SLOTS_MAX}, needs ${count}; delete some`,
        { group, free, needs: count },
      );
    }
  }

  /** Puts an original capability (no parent) to `obj` in `group`; returns its slot. */
  insertOriginal(group: number, obj: number, rights: number, slot?: number): number {
    const s = this.freeSlot(group, slot);
    this.index(
      this.table.create(ObjKind.CAP, { group, slot: s, obj, rights, badge: 0, parent: 0 }, group),
    );
    return s;
  }

  /**
   * Derives a child of `parent` into `group` (copy when badge is undefined,
   * mint otherwise). Rights must be a subset of the parent's; a badge can only
   * be set on an unbadged capability.
   */
  derive(
    parent: CapRecord,
    group: number,
    rights: number,
    badge: number | undefined,
    slot?: number,
  ): number {
    if (!isSubset(rights, parent.rights)) {
      throw new TardigradeError(
        Err.E_NO_RIGHTS,
        `derive: asked for ${rightsToString(rights)} but the source has only ${
          rightsToString(parent.rights)
        }`,
        { asked: rights, has: parent.rights },
      );
    }
    if (badge !== undefined && parent.badge !== 0 && badge !== parent.badge) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `derive: the source is already badged ${parent.badge}; a badge cannot be changed`,
        { badge: parent.badge },
      );
    }
    const s = this.freeSlot(group, slot);
    const cap = this.table.create(ObjKind.CAP, {
      group,
      slot: s,
      obj: parent.obj,
      rights,
      badge: badge ?? parent.badge,
      parent: parent.id,
    }, group);
    this.index(cap);
    return s;
  }

  /** Deletes one capability. Its children stay valid and become originals' orphans. */
  deleteCap(cap: CapRecord): void {
    this.slots.get(cap.group)?.delete(cap.slot);
    this.children.get(cap.parent)?.delete(cap.id);
    for (const kid of this.children.get(cap.id) ?? []) {
      const k = this.table.get(kid) as CapRecord | undefined;
      if (k) this.table.update(k, { parent: 0 });
    }
    this.children.delete(cap.id);
    this.table.remove(cap.id);
  }

  /**
   * Removes every capability derived from `cap`, recursively (not `cap`
   * itself). Returns the removed capabilities so the caller can close what
   * they held (connections, mappings).
   */
  revoke(cap: CapRecord): CapRecord[] {
    const removed: CapRecord[] = [];
    const stack = [...(this.children.get(cap.id) ?? [])];
    while (stack.length > 0) {
      const id = stack.pop()!;
      const c = this.table.get(id) as CapRecord | undefined;
      if (!c) continue;
      stack.push(...(this.children.get(id) ?? []));
      this.children.delete(id);
      this.slots.get(c.group)?.delete(c.slot);
      this.table.remove(id);
      removed.push(c);
    }
    this.children.delete(cap.id);
    return removed;
  }

  /** Every capability of `group`, by slot. */
  list(group: number): CapRecord[] {
    return [...(this.slots.get(group)?.values() ?? [])].sort((a, b) => a.slot - b.slot);
  }

  /** Every capability, in any group, that names `obj`. */
  *namingObject(obj: number): IterableIterator<CapRecord> {
    for (const space of this.slots.values()) {
      for (const c of space.values()) if (c.obj === obj) yield c;
    }
  }
}
