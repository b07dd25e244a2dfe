/**
 * Descriptor tables, one per owner (a client connection), in the heap so a
 * resume finds every open file where it was. An owner's table is a 4 KiB
 * block of {@link OPEN_FILES_MAX} records, allocated at its first open and
 * freed by {@link Descriptors.drop} when its connection goes (closeAll);
 * the owners are a hash table owner → (table,
 * open count). A record:
 *
 *     0 inode (0: the descriptor is free)   4 open flags   8 offset f64
 *
 * Descriptors are the lowest free index (POSIX), EMFILE past
 * OPEN_FILES_MAX.
 *
 * @module
 */

import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import type { PersistentHeap } from "../../pmem/heap.ts";
import { NODE_PAYLOAD, type Tables } from "../../pmem/table.ts";
import { FsErrno, FsError, OPEN_FILES_MAX } from "../vfs.ts";
import { noSpace } from "./quota.ts";

/** Byte offsets in a descriptor record. */
export enum D {
  INO = 0,
  FLAGS = 4,
  OFFSET = 8,
}
const RECORD_BYTES = 16;
const TABLE_BYTES = OPEN_FILES_MAX * RECORD_BYTES;
/** Owner payload: the table's address, then its open count. */
const OWNER_PAYLOAD = 8;

const keyBytes = new Uint8Array(4);

/**
 * The 4 key bytes of a u32 owner or client number, in one buffer reused
 * by every call (a table reads a key only during the call it is given to).
 */
export function u32Key(n: number): Uint8Array {
  keyBytes[0] = n & 0xff;
  keyBytes[1] = (n >>> 8) & 0xff;
  keyBytes[2] = (n >>> 16) & 0xff;
  keyBytes[3] = n >>> 24;
  return keyBytes;
}

/** Every owner's descriptors (see the module map). */
export class Descriptors {
  private readonly mem: PersistentMemory;

  constructor(
    private readonly heap: PersistentHeap,
    private readonly tables: Tables,
    private readonly owners: number,
  ) {
    this.mem = heap.mem;
  }

  /** A new owners table (at format). */
  static createOwners(tables: Tables): number {
    return tables.create(OWNER_PAYLOAD);
  }

  /** EMFILE when `owner` has {@link OPEN_FILES_MAX} descriptors open; changes nothing. */
  checkRoom(owner: number): void {
    const node = this.tables.find(this.owners, u32Key(owner));
    if (node !== 0 && this.mem.getU32(node + NODE_PAYLOAD + 4) >= OPEN_FILES_MAX) {
      throw new FsError(
        FsErrno.EMFILE,
        `open: owner ${owner} has ${OPEN_FILES_MAX} descriptors open; close some first`,
      );
    }
  }

  /**
   * The lowest free descriptor of `owner`, its table allocated when it has
   * none: EMFILE when all are open, ENOSPC when the heap is full (nothing
   * changed). Call {@link bind} to use it or {@link unreserve} to give the
   * table back when the open fails later.
   */
  reserve(owner: number): number {
    const mem = this.mem;
    const key = u32Key(owner);
    let node = this.tables.find(this.owners, key);
    if (node === 0) {
      let table: number;
      try {
        table = this.heap.alloc(TABLE_BYTES);
      } catch (e) {
        throw noSpace(e, "open: no room for a descriptor table");
      }
      try {
        node = this.tables.insertHashed(this.owners, key, this.tables.hashOf(key));
      } catch (e) {
        this.heap.free(table);
        throw noSpace(e, "open: no room for a descriptor table");
      }
      mem.fill(table, TABLE_BYTES);
      mem.setU32(node + NODE_PAYLOAD, table);
      return 0;
    }
    this.checkRoom(owner);
    const table = mem.getU32(node + NODE_PAYLOAD);
    for (let fd = 0; fd < OPEN_FILES_MAX; fd++) {
      if (mem.getU32(table + fd * RECORD_BYTES) === 0) return fd;
    }
    throw new FsError(FsErrno.EMFILE, `open: owner ${owner}: no free descriptor`);
  }

  /** Gives back a table {@link reserve} allocated when the open failed after it. */
  unreserve(owner: number): void {
    const key = u32Key(owner);
    const node = this.tables.find(this.owners, key);
    if (node !== 0 && this.mem.getU32(node + NODE_PAYLOAD + 4) === 0) {
      this.heap.free(this.mem.getU32(node + NODE_PAYLOAD));
      this.tables.remove(this.owners, key);
    }
  }

  /** Opens descriptor `fd` (from {@link reserve}) on `ino` with `flags` at offset 0. */
  bind(owner: number, fd: number, ino: number, flags: number): void {
    const mem = this.mem;
    const node = this.tables.find(this.owners, u32Key(owner));
    const at = mem.getU32(node + NODE_PAYLOAD) + fd * RECORD_BYTES;
    mem.setU32(at + D.INO, ino);
    mem.setU32(at + D.FLAGS, flags);
    mem.setF64(at + D.OFFSET, 0);
    mem.setU32(node + NODE_PAYLOAD + 4, mem.getU32(node + NODE_PAYLOAD + 4) + 1);
  }

  /** The record of open descriptor `fd` of `owner`; EBADF when it is not open. */
  record(owner: number, fd: number, op: string): number {
    if (!Number.isInteger(fd) || fd < 0 || fd >= OPEN_FILES_MAX) return badFd(op, owner, fd);
    const node = this.tables.find(this.owners, u32Key(owner));
    if (node === 0) return badFd(op, owner, fd);
    const at = this.mem.getU32(node + NODE_PAYLOAD) + fd * RECORD_BYTES;
    if (this.mem.getU32(at + D.INO) === 0) return badFd(op, owner, fd);
    return at;
  }

  /** Closes `fd` of `owner` (EBADF when not open); returns its inode. The table stays for the next open. */
  close(owner: number, fd: number): number {
    const mem = this.mem;
    const at = this.record(owner, fd, "close");
    const ino = mem.getU32(at + D.INO);
    mem.fill(at, RECORD_BYTES);
    const node = this.tables.find(this.owners, u32Key(owner));
    mem.setU32(node + NODE_PAYLOAD + 4, mem.getU32(node + NODE_PAYLOAD + 4) - 1);
    return ino;
  }

  /** Frees the table of `owner` when none of its descriptors is open (its connection is gone). */
  drop(owner: number): void {
    this.unreserve(owner);
  }

  /** The open descriptors of `owner`, lowest first. */
  openOf(owner: number): number[] {
    const node = this.tables.find(this.owners, u32Key(owner));
    if (node === 0) return [];
    const table = this.mem.getU32(node + NODE_PAYLOAD);
    const fds: number[] = [];
    for (let fd = 0; fd < OPEN_FILES_MAX; fd++) {
      if (this.mem.getU32(table + fd * RECORD_BYTES) !== 0) fds.push(fd);
    }
    return fds;
  }
}

function badFd(op: string, owner: number, fd: number): never {
  throw new FsError(FsErrno.EBADF, `${op}: descriptor ${fd} is not open for owner ${owner}`);
}
