/**
 * Blocks charged per client, with optional limits: a hash table client →
 * (charged f64, limit f64, -1 for none) in the heap. A file's data pages
 * are charged to the client that created it; a write that would pass its
 * client's limit gets ENOSPC, and every other client writes on. A client
 * with nothing charged and no limit has no entry.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { NODE_PAYLOAD, type Tables } from "../../pmem/table.ts";
import { FsErrno, FsError } from "../vfs.ts";
import { u32Key } from "./descriptors.ts";

const CHARGED = NODE_PAYLOAD;
const LIMIT = NODE_PAYLOAD + 8;
const QUOTA_PAYLOAD = 16;
const NO_LIMIT = -1;

/** ENOSPC for a heap that is full (E_NO_MEMORY), `e` itself otherwise. */
export function noSpace(e: unknown, what: string): unknown {
  if (e instanceof TardigradeError && e.code === Err.E_NO_MEMORY) {
    return new FsError(FsErrno.ENOSPC, `${what}: the metadata heap is full; remove files`);
  }
  return e;
}

/** Charges and limits of every client (see the module map). */
export class Quotas {
  constructor(
    private readonly tables: Tables,
    private readonly mem: PersistentMemory,
    private readonly table: number,
  ) {}

  /** A new quota table (at format). */
  static create(tables: Tables): number {
    return tables.create(QUOTA_PAYLOAD);
  }

  /** Blocks charged to `client`. */
  charged(client: number): number {
    const node = this.tables.find(this.table, u32Key(client));
    return node === 0 ? 0 : this.mem.getF64(node + CHARGED);
  }

  /** Blocks more `client` may be charged (Infinity without a limit). */
  room(client: number): number {
    const node = this.tables.find(this.table, u32Key(client));
    if (node === 0) return Infinity;
    const limit = this.mem.getF64(node + LIMIT);
    return limit === NO_LIMIT ? Infinity : Math.max(0, limit - this.mem.getF64(node + CHARGED));
  }

  /** Makes sure `client` has an entry, so {@link charge} allocates nothing (ENOSPC when the heap is full). */
  ensure(client: number): void {
    const key = u32Key(client);
    if (this.tables.find(this.table, key) !== 0) return;
    let node: number;
    try {
      node = this.tables.insertHashed(this.table, key, this.tables.hashOf(key));
    } catch (e) {
      throw noSpace(e, "write");
    }
    this.mem.setF64(node + LIMIT, NO_LIMIT);
  }

  /** Drops `client`'s entry when it holds nothing (after an {@link ensure} that went unused). */
  tidy(client: number): void {
    const key = u32Key(client);
    const node = this.tables.find(this.table, key);
    if (node === 0) return;
    if (this.mem.getF64(node + CHARGED) === 0 && this.mem.getF64(node + LIMIT) === NO_LIMIT) {
      this.tables.remove(this.table, key);
    }
  }

  /** Adds `blocks` (negative to give back) to `client`'s charge; its entry exists when `blocks` > 0. */
  charge(client: number, blocks: number): void {
    if (blocks === 0) return;
    const key = u32Key(client);
    const node = this.tables.find(this.table, key);
    const now = this.mem.getF64(node + CHARGED) + blocks;
    if (now === 0 && this.mem.getF64(node + LIMIT) === NO_LIMIT) {
      this.tables.remove(this.table, key);
    } else this.mem.setF64(node + CHARGED, now);
  }

  /** Sets (or, with undefined, lifts) `client`'s limit. */
  setLimit(client: number, blocks: number | undefined): void {
    if (blocks !== undefined && !(Number.isInteger(blocks) && blocks >= 0)) {
      throw new FsError(FsErrno.EINVAL, `setQuota: ${blocks} blocks; give a whole number ≥ 0`);
    }
    const key = u32Key(client);
    if (blocks === undefined) {
      const node = this.tables.find(this.table, key);
      if (node === 0) return;
      if (this.mem.getF64(node + CHARGED) === 0) this.tables.remove(this.table, key);
      else this.mem.setF64(node + LIMIT, NO_LIMIT);
      return;
    }
    this.ensure(client);
    this.mem.setF64(this.tables.find(this.table, key) + LIMIT, blocks);
  }
}
