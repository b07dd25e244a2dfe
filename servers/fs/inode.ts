/**
 * The file server's inode: the layout, declared once as data, and the one
 * class that reads and writes it. An inode is the named memory-server
 * object "fs:<name>" of {@link INODE_BYTES} bytes, little-endian:
 *
 * | offset                 | field                                          |
 * |------------------------|------------------------------------------------|
 * | InodeField.LENGTH      | u32 file length in bytes                       |
 * | InodeField.RESERVED    | 3 reserved u32 words (zero)                    |
 * | InodeField.CHUNKS      | FS_CHUNKS_MAX chunk ids of ID_BYTES each; a zero id is a hole that reads as zeros |
 *
 * A new inode is all zeros (the memory server zeroes new objects): an
 * empty file.
 *
 * @module
 */

import { assert } from "../../kernel/abi/errors.ts";
import { DATA_BYTES_MAX, ID_BYTES, idFromBytes, idToBytes, isNullId } from "../memory/protocol.ts";
import { FS_CHUNKS_MAX } from "./protocol.ts";

/** Byte offsets of an inode's fields. */
export enum InodeField {
  LENGTH = 0,
  RESERVED = 4,
  /** The chunk table: FS_CHUNKS_MAX ids. */
  CHUNKS = 16,
}

/** Bytes of an inode. */
export const INODE_BYTES = InodeField.CHUNKS + FS_CHUNKS_MAX * ID_BYTES;

assert(INODE_BYTES <= DATA_BYTES_MAX, "fs inode", "an inode fits one memory READ");

/** An inode as read from the memory server; changes stay in `bytes` until written back. */
export class Inode {
  readonly view: DataView;

  /** `bytes` must be INODE_BYTES long (what the memory server read). */
  constructor(readonly bytes: Uint8Array) {
    assert(bytes.length === INODE_BYTES, "Inode", `an inode is ${INODE_BYTES} bytes`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The file's length in bytes. */
  get length(): number {
    return this.view.getUint32(InodeField.LENGTH, true);
  }

  set length(n: number) {
    this.view.setUint32(InodeField.LENGTH, n, true);
  }

  /** The id of chunk `i`, or null for a hole. */
  chunk(i: number): string | null {
    const at = chunkAt(i);
    return isNullId(this.bytes, at) ? null : idFromBytes(this.bytes, at);
  }

  /** Links chunk `i` to the memory object `id`. */
  setChunk(i: number, id: string): void {
    this.bytes.set(idToBytes(id), chunkAt(i));
  }

  /** Ids of every linked chunk, in order. */
  chunks(): string[] {
    const out: string[] = [];
    for (let i = 0; i < FS_CHUNKS_MAX; i++) {
      const id = this.chunk(i);
      if (id) out.push(id);
    }
    return out;
  }
}

/** Byte offset of chunk id `i`. */
function chunkAt(i: number): number {
  assert(Number.isInteger(i) && i >= 0 && i < FS_CHUNKS_MAX, "Inode", `chunk ${i} out of range`);
  return InodeField.CHUNKS + i * ID_BYTES;
}
