/**
 * The file system's inode record, declared once: one 64-byte heap block
 * (servers/pmem/heap.ts) per file, directory or symlink, whose address is
 * its inode number. Little-endian:
 *
 * | offset        | field                                                        |
 * |---------------|--------------------------------------------------------------|
 * | I.KIND        | u32 {@link Kind}                                             |
 * | I.MODE        | u32 permission bits                                          |
 * | I.NLINK       | u32 links (a directory's: 2 + its subdirectories)            |
 * | I.OPEN        | u32 descriptors open on it (an unlinked file lives on)       |
 * | I.SIZE        | f64 bytes (file, symlink target); a directory's is its entries |
 * | I.ATIME…CTIME | f64 Unix ms                                                  |
 * | I.BLOCKS      | u32 data pages the file holds                                |
 * | I.CLIENT      | u32 the client its data pages are charged to                 |
 * | I.ROOT        | u32 a file's page-map root, a directory's table, a symlink's target block |
 * | I.AUX         | u32 a file's page-map depth, a directory's parent inode      |
 *
 * Map: {@link Kind}, {@link I}, {@link Inodes} (allocate, free, read into
 * an {@link FsStat}).
 *
 * @module
 */

import type { PersistentHeap } from "../../pmem/heap.ts";
import type { FsKind, FsStat } from "../vfs.ts";

/** What an inode is (0 never appears in a live one). */
export enum Kind {
  FILE = 1,
  DIR = 2,
  SYMLINK = 3,
}

/** Byte offsets of the inode record's fields. */
export enum I {
  KIND = 0,
  MODE = 4,
  NLINK = 8,
  OPEN = 12,
  SIZE = 16,
  ATIME = 24,
  MTIME = 32,
  CTIME = 40,
  BLOCKS = 48,
  CLIENT = 52,
  ROOT = 56,
  AUX = 60,
}

/** Bytes of an inode record. */
export const INODE_BYTES = 64;

const KIND_NAMES: Record<number, FsKind> = {
  [Kind.FILE]: "file",
  [Kind.DIR]: "dir",
  [Kind.SYMLINK]: "symlink",
};

/** The name of a kind as {@link FsStat.kind} has it. */
export function kindName(kind: Kind): FsKind {
  return KIND_NAMES[kind];
}

/**
 * Inode records in one heap: fields read straight from `mem`, written
 * through its barrier.
 */
export class Inodes {
  private readonly mem;

  constructor(private readonly heap: PersistentHeap) {
    this.mem = heap.mem;
  }

  /** A new inode (throws E_NO_MEMORY, changing nothing), times set to `now`. */
  create(kind: Kind, mode: number, client: number, now: number): number {
    const ino = this.heap.alloc(INODE_BYTES);
    const mem = this.mem;
    mem.fill(ino, INODE_BYTES);
    mem.setU32(ino + I.KIND, kind);
    mem.setU32(ino + I.MODE, mode & 0o7777);
    mem.setU32(ino + I.NLINK, kind === Kind.DIR ? 2 : 1);
    mem.setU32(ino + I.CLIENT, client >>> 0);
    mem.setF64(ino + I.ATIME, now);
    mem.setF64(ino + I.MTIME, now);
    mem.setF64(ino + I.CTIME, now);
    return ino;
  }

  /** Gives the record back (its data, table or target must be gone already). */
  free(ino: number): void {
    this.heap.free(ino);
  }

  /** A u32 field. */
  get(ino: number, field: I): number {
    return this.mem.getU32(ino + field);
  }

  /** Sets a u32 field. */
  set(ino: number, field: I, value: number): void {
    this.mem.setU32(ino + field, value);
  }

  /** An f64 field (SIZE and the times). */
  getF(ino: number, field: I): number {
    return this.mem.getF64(ino + field);
  }

  /** Sets an f64 field. */
  setF(ino: number, field: I, value: number): void {
    this.mem.setF64(ino + field, value);
  }

  /** The kind. */
  kind(ino: number): Kind {
    return this.mem.getU32(ino + I.KIND);
  }

  /** Sets mtime and ctime to `now` (a change of contents). */
  touch(ino: number, now: number): void {
    this.mem.setF64(ino + I.MTIME, now);
    this.mem.setF64(ino + I.CTIME, now);
  }

  /** The stat of `ino`; `size` is what the caller counts (a directory's entries). */
  stat(ino: number, size: number): FsStat {
    const mem = this.mem;
    return {
      ino,
      kind: KIND_NAMES[mem.getU32(ino + I.KIND)],
      size,
      nlink: mem.getU32(ino + I.NLINK),
      mode: mem.getU32(ino + I.MODE),
      blocks: mem.getU32(ino + I.BLOCKS),
      atimeMs: mem.getF64(ino + I.ATIME),
      mtimeMs: mem.getF64(ino + I.MTIME),
      ctimeMs: mem.getF64(ino + I.CTIME),
    };
  }
}
