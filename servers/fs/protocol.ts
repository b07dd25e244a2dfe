/**
 * The file server's protocol: labels (from 16 on, beside Label.STATUS and
 * Label.ECHO), binary encodings (little-endian; numbers a client picks
 * travel as f64 and are checked by the server), and {@link FsClient}.
 *
 * | label  | request                                           | reply            |
 * |--------|---------------------------------------------------|------------------|
 * | CREATE | name                                              | empty            |
 * | WRITE  | f64 offset, u8 name length, name, bytes           | f64 new size     |
 * | READ   | f64 offset, f64 length (<= 960), name             | bytes (short at the end of the file) |
 * | STAT   | name                                              | JSON {@link FileStat} |
 * | DELETE | name                                              | empty            |
 *
 * A name is 1..{@link FS_NAME_BYTES_MAX} bytes of UTF-8. Files are one flat
 * namespace shared by every client. Each file is a named object "fs:<name>"
 * of the memory server (its inode) plus 4 KiB chunk objects, all charged to
 * the file server's quota; unwritten ranges read as zeros. Errors: E_EXISTS
 * (CREATE), E_NOT_FOUND (no such file), E_LIMIT (past {@link FILE_BYTES_MAX}),
 * E_NO_MEMORY (the file server's quota), E_BAD_ARGUMENT, E_BAD_MESSAGE.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { type ClientConnection, parseJson, unwrap } from "../runtime/ipc.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";

/** Labels of the file server's operations. */
export enum FsLabel {
  CREATE = 16,
  WRITE = 17,
  READ = 18,
  STAT = 19,
  DELETE = 20,
}

/** Longest file name in UTF-8 bytes ("fs:" + name is a memory-server name of <= 64 bytes). */
export const FS_NAME_BYTES_MAX = 61;
/** Bytes of one chunk object. */
export const FS_CHUNK_BYTES = 4096;
/** Chunks a file can have (its inode fits one memory READ). */
export const FS_CHUNKS_MAX = 56;
/** Largest file in bytes. */
export const FILE_BYTES_MAX = FS_CHUNK_BYTES * FS_CHUNKS_MAX;
/** Most bytes one READ returns. */
export const FS_READ_BYTES_MAX = 960;

/** What STAT answers. */
export interface FileStat {
  name: string;
  /** Length in bytes. */
  size: number;
  /** Chunks allocated (unwritten ranges have none). */
  chunks: number;
  /** Largest size the file may grow to. */
  maxSize: number;
}

const encoder = new TextEncoder();

/** CREATE, STAT, DELETE: the name alone. */
export function encodeFsName(name: string): Uint8Array {
  return encoder.encode(String(name));
}

/** WRITE. */
export function encodeFsWrite(name: string, offset: number, data: Uint8Array): Uint8Array {
  const n = encoder.encode(String(name));
  if (n.length > 255) {
    throw new TardigradeError(Err.E_BAD_ARGUMENT, `file name of ${n.length} bytes is too long`);
  }
  return new PayloadWriter().f64(offset).bytes(Uint8Array.of(n.length)).bytes(n).bytes(data).done();
}

/** READ. */
export function encodeFsRead(name: string, offset: number, length: number): Uint8Array {
  return new PayloadWriter().f64(offset).f64(length).bytes(encoder.encode(String(name))).done();
}

/** Decodes a WRITE request: offset, name, data. */
export function decodeFsWrite(
  payload: Uint8Array,
): { offset: number; name: string; data: Uint8Array } {
  const r = new PayloadReader(payload, "fs WRITE");
  const offset = r.f64();
  const len = r.bytes(1)[0];
  const name = new PayloadReader(r.bytes(len), "fs WRITE name").restText();
  return { offset, name, data: r.rest() };
}

/** Decodes a READ request. */
export function decodeFsRead(
  payload: Uint8Array,
): { offset: number; length: number; name: string } {
  const r = new PayloadReader(payload, "fs READ");
  return { offset: r.f64(), length: r.f64(), name: r.restText() };
}

/** The file server, asynchronous. */
export class FsClient {
  constructor(readonly conn: ClientConnection) {}

  private async run(label: FsLabel, payload: Uint8Array): Promise<Uint8Array> {
    return unwrap(await this.conn.call(label, payload), `fs ${FsLabel[label]}`);
  }

  /** Creates an empty file (E_EXISTS). */
  async create(name: string): Promise<void> {
    await this.run(FsLabel.CREATE, encodeFsName(name));
  }
  /** Writes `data` at `offset`; returns the file's new size. */
  async write(name: string, offset: number, data: Uint8Array): Promise<number> {
    const p = await this.run(FsLabel.WRITE, encodeFsWrite(name, offset, data));
    const r = new PayloadReader(p, "fs WRITE reply");
    const size = r.f64();
    r.end();
    return size;
  }
  /** Reads up to `length` (<= 960) bytes at `offset`; fewer at the end of the file. */
  read(name: string, offset: number, length: number): Promise<Uint8Array> {
    return this.run(FsLabel.READ, encodeFsRead(name, offset, length));
  }
  /** Size and chunks of a file. */
  async stat(name: string): Promise<FileStat> {
    return parseJson<FileStat>(await this.run(FsLabel.STAT, encodeFsName(name)));
  }
  /** Deletes a file and frees its storage. */
  async delete(name: string): Promise<void> {
    await this.run(FsLabel.DELETE, encodeFsName(name));
  }
}
