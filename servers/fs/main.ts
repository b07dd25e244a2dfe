/**
 * The file server: a flat namespace of files kept in the memory server
 * (protocol: servers/fs/protocol.ts). It answers STATUS and ECHO like every
 * server, and CREATE, WRITE, READ, STAT, DELETE.
 *
 * ## Storage
 *
 * The server keeps no state of its own: a file is a named object
 * "fs:<name>" of the memory server, its *inode* (layout: inode.ts), which
 * links {@link FS_CHUNK_BYTES}-byte chunk objects. WRITE fills the chunks first and then writes the
 * inode with one memory WRITE, so the file changes in one step; a failure
 * (or a crash) in between at worst leaks a chunk, never links a bad one.
 * DELETE removes the name first, then frees the chunks.
 *
 * ## The memory connection
 *
 * init gives the server a CALL capability named "memory"; the first start
 * connects through it and keeps the connection's slot in its slot record,
 * and a resume re-attaches it (`lastingConnection`). Request handlers must answer
 * synchronously, so they call the memory server with `callSync` (the worker
 * waits in the middle of its step: a checkpoint waits for the handler to end).
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import type { Request } from "../runtime/ipc.ts";
import { jsonPayload } from "../runtime/ipc.ts";
import { runProgram } from "../runtime/program.ts";
import { lastingConnection, serveService } from "../runtime/service.ts";
import { MemoryClient, type MemoryClientSync } from "../memory/client.ts";
import { DATA_BYTES_MAX } from "../memory/protocol.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import { Inode, INODE_BYTES } from "./inode.ts";
import {
  decodeFsRead,
  decodeFsWrite,
  FILE_BYTES_MAX,
  type FileStat,
  FS_CHUNK_BYTES,
  FS_NAME_BYTES_MAX,
  FS_READ_BYTES_MAX,
  FsLabel,
} from "./protocol.ts";

const encoder = new TextEncoder();

function fail(code: Err, what: string): never {
  throw new TardigradeError(code, `fs: ${what}`);
}

/** The files, over a blocking memory client. */
class FileStore {
  constructor(
    private readonly memory: MemoryClientSync,
    private readonly log: (s: string) => void,
  ) {}

  /** The memory-server name of a file (E_BAD_ARGUMENT for a bad name). */
  private objectName(name: string): string {
    const n = encoder.encode(name).length;
    if (n < 1 || n > FS_NAME_BYTES_MAX) {
      fail(Err.E_BAD_ARGUMENT, `a file name is 1..${FS_NAME_BYTES_MAX} bytes of UTF-8, not ${n}`);
    }
    return `fs:${name}`;
  }

  /** Opens a file's inode: its id and contents. */
  private inode(name: string): { id: string; inode: Inode } {
    let info;
    try {
      info = this.memory.open(this.objectName(name));
    } catch (e) {
      if (e instanceof TardigradeError && e.code === Err.E_NOT_FOUND) {
        fail(Err.E_NOT_FOUND, `no file named ${JSON.stringify(name)}`);
      }
      throw e;
    }
    if (info.size !== INODE_BYTES) fail(Err.E_NOT_FOUND, `"fs:${name}" is not a file inode`);
    return { id: info.id, inode: new Inode(this.memory.read(info.id, 0, INODE_BYTES)) };
  }

  handle(req: Request): Uint8Array | void {
    switch (req.label) {
      case FsLabel.CREATE: {
        const name = new PayloadReader(req.payload, "fs CREATE").restText();
        this.memory.create(this.objectName(name), INODE_BYTES);
        return;
      }
      case FsLabel.WRITE: {
        const { offset, name, data } = decodeFsWrite(req.payload);
        return new PayloadWriter(8).f64(this.write(name, offset, data)).done();
      }
      case FsLabel.READ: {
        const { offset, length, name } = decodeFsRead(req.payload);
        return this.read(name, offset, length);
      }
      case FsLabel.STAT: {
        const name = new PayloadReader(req.payload, "fs STAT").restText();
        const { inode } = this.inode(name);
        const stat: FileStat = {
          name,
          size: inode.length,
          chunks: inode.chunks().length,
          maxSize: FILE_BYTES_MAX,
        };
        return jsonPayload(stat);
      }
      case FsLabel.DELETE: {
        const name = new PayloadReader(req.payload, "fs DELETE").restText();
        const { inode } = this.inode(name);
        this.memory.deleteName(this.objectName(name)); // the file is gone from here on
        for (const id of inode.chunks()) {
          try {
            this.memory.free(id);
          } catch (e) {
            this.log(`fs: delete ${name}: chunk ${id} not freed (${String(e)})`);
          }
        }
        return;
      }
      default:
        fail(Err.E_NOT_SUPPORTED, `no operation with label ${req.label}`);
    }
  }

  private write(name: string, offset: number, data: Uint8Array): number {
    if (!(Number.isInteger(offset) && offset >= 0)) {
      fail(Err.E_BAD_ARGUMENT, `write offset ${offset} must be a non-negative integer`);
    }
    const end = offset + data.length;
    if (end > FILE_BYTES_MAX) {
      fail(Err.E_LIMIT, `a write up to byte ${end} is past the largest file (${FILE_BYTES_MAX})`);
    }
    const { id, inode } = this.inode(name);
    if (data.length === 0) return inode.length;
    const before = inode.length;
    const fresh: string[] = [];
    try {
      for (let c = Math.floor(offset / FS_CHUNK_BYTES); c * FS_CHUNK_BYTES < end; c++) {
        let chunk = inode.chunk(c);
        if (!chunk) {
          chunk = this.memory.alloc(FS_CHUNK_BYTES).id;
          fresh.push(chunk);
          inode.setChunk(c, chunk);
        }
        const from = Math.max(offset, c * FS_CHUNK_BYTES);
        const to = Math.min(end, (c + 1) * FS_CHUNK_BYTES);
        for (let at = from; at < to; at += DATA_BYTES_MAX) {
          const n = Math.min(DATA_BYTES_MAX, to - at);
          this.memory.write(
            chunk,
            at - c * FS_CHUNK_BYTES,
            data.subarray(at - offset, at - offset + n),
          );
        }
      }
      if (end > inode.length) inode.length = end;
      if (fresh.length > 0 || inode.length !== before) this.memory.write(id, 0, inode.bytes);
    } catch (e) {
      for (const chunk of fresh) {
        try {
          this.memory.free(chunk);
        } catch { /* leaked; it stays charged to the file server */ }
      }
      throw e;
    }
    return inode.length;
  }

  private read(name: string, offset: number, length: number): Uint8Array {
    if (!(Number.isInteger(offset) && offset >= 0)) {
      fail(Err.E_BAD_ARGUMENT, `read offset ${offset} must be a non-negative integer`);
    }
    if (!(Number.isInteger(length) && length >= 0 && length <= FS_READ_BYTES_MAX)) {
      fail(
        Err.E_BAD_ARGUMENT,
        `read length ${length} must be an integer in [0, ${FS_READ_BYTES_MAX}]`,
      );
    }
    const { inode } = this.inode(name);
    const end = Math.min(inode.length, offset + length);
    if (offset >= end) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    for (let c = Math.floor(offset / FS_CHUNK_BYTES); c * FS_CHUNK_BYTES < end; c++) {
      const chunk = inode.chunk(c);
      const from = Math.max(offset, c * FS_CHUNK_BYTES);
      const to = Math.min(end, (c + 1) * FS_CHUNK_BYTES);
      if (chunk) {
        out.set(this.memory.read(chunk, from - c * FS_CHUNK_BYTES, to - from), from - offset);
      }
    }
    return out;
  }
}

runProgram(async (ctx) => {
  const conn = await lastingConnection(ctx, "memory");
  const files = new FileStore(new MemoryClient(conn).sync, ctx.log);
  await serveService(ctx, "fs", (req) => files.handle(req));
  ctx.log(
    `fs: ${ctx.resumed ? "re-attached" : "connected"} to the memory server (slot ${conn.slot})`,
  );
});
