/**
 * Directories: one persistent hash table (servers/pmem/table.ts) per
 * directory, name bytes → inode (a u32 payload), so a lookup, insert or
 * removal costs the same in a directory of 10 entries and of 100,000.
 *
 * Listing ({@link Dirs.page}) runs on the table's reverse-binary scan
 * cursor, held as the position in the reversed 32-bit hash space: a page
 * returns every entry whose reversed hash lies in [cursor, next). The
 * pages partition that space, so an entry present for the whole listing
 * is returned exactly once however the table grows, shrinks or rehashes
 * between pages (the position filters out what a shrink would show
 * again).
 *
 * @module
 */

import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { NODE_HASH, NODE_PAYLOAD, reverse32, type Tables } from "../../pmem/table.ts";

/** Payload of a directory entry: the inode. */
const ENTRY_PAYLOAD = 4;

/** One entry a listing found. */
export interface DirHit {
  /** The name's bytes (a copy). */
  name: Uint8Array;
  ino: number;
}

/** Directory tables in one heap. */
export class Dirs {
  constructor(private readonly tables: Tables, private readonly mem: PersistentMemory) {}

  /** A new empty directory table (throws E_NO_MEMORY, changing nothing). */
  create(): number {
    return this.tables.create(ENTRY_PAYLOAD);
  }

  /** Frees an empty directory's table. */
  destroy(t: number): void {
    this.tables.destroy(t);
  }

  /** Entries of `t`. */
  count(t: number): number {
    return this.tables.count(t);
  }

  /** The inode `name` names in `t`, or 0. */
  find(t: number, name: Uint8Array): number {
    const node = this.tables.find(t, name);
    return node === 0 ? 0 : this.mem.getU32(node + NODE_PAYLOAD);
  }

  /** Adds `name` → `ino`, which the caller knows is missing (throws E_NO_MEMORY, changing nothing). */
  insert(t: number, name: Uint8Array, ino: number): void {
    const node = this.tables.insertHashed(t, name, this.tables.hashOf(name));
    this.mem.setU32(node + NODE_PAYLOAD, ino);
  }

  /** Points the existing entry `name` at `ino` (no allocation). */
  replace(t: number, name: Uint8Array, ino: number): void {
    const node = this.tables.find(t, name);
    this.mem.setU32(node + NODE_PAYLOAD, ino);
  }

  /** Removes `name`; true when it was there. */
  remove(t: number, name: Uint8Array): boolean {
    return this.tables.remove(t, name);
  }

  /**
   * Up to `max` entries of `t` from position `cursor` (0 starts), and the
   * position of the next page (0 when the listing is complete). Entries of
   * one full 32-bit hash stay on one page, so a page holds more than `max`
   * only when more than `max` names share a hash.
   */
  page(t: number, cursor: number, max: number): { hits: DirHit[]; next: number } {
    const hits: DirHit[] = [];
    const mem = this.mem;
    let c = cursor >>> 0;
    while (this.tables.count(t) > 0) {
      const batch: Array<{ node: number; k: number }> = [];
      const from = c;
      const v = this.tables.scan(t, reverse32(c), (node) => {
        const k = reverse32(mem.getU32(node + NODE_HASH));
        if (k >= from) batch.push({ node, k });
      });
      let taken = batch.length;
      if (hits.length + batch.length > max) {
        batch.sort((a, b) => a.k - b.k);
        taken = Math.max(0, max - hits.length);
        while (taken > 0 && taken < batch.length && batch[taken].k === batch[taken - 1].k) taken--;
        if (taken === 0 && hits.length === 0) { // one hash holds more than max names: all of them
          while (taken < batch.length && batch[taken].k === batch[0].k) taken++;
        }
      }
      for (let i = 0; i < taken; i++) {
        const node = batch[i].node;
        hits.push({ name: this.tables.keyOf(t, node), ino: mem.getU32(node + NODE_PAYLOAD) });
      }
      if (taken < batch.length) return { hits, next: batch[taken].k };
      c = reverse32(v);
      if (v === 0) return { hits, next: 0 };
      if (hits.length >= max) return { hits, next: c };
    }
    return { hits, next: 0 };
  }

  /** Calls `each` on every entry of `t` (which `each` must not change). */
  forEach(t: number, each: (name: Uint8Array, ino: number) => void): void {
    this.tables.forEach(t, (node) => {
      each(this.tables.keyOf(t, node), this.mem.getU32(node + NODE_PAYLOAD));
    });
  }
}
