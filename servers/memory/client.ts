/**
 * Client library of the memory server (protocol: servers/memory/protocol.ts).
 *
 * {@link MemoryClient} has one async method per operation (`conn.call`: needs
 * the program loop, so use it from `main` or from async code);
 * {@link MemoryClient.sync} has the same methods, blocking (`conn.callSync`),
 * for request handlers, which must return their reply synchronously. A
 * failed call throws a TardigradeError with the server's code (E_NOT_OWNER,
 * E_DOUBLE_FREE, E_NO_MEMORY, ...); arguments the client cannot even encode
 * (an id that is not 32 hex digits) throw E_BAD_ARGUMENT without a call.
 *
 * @example
 * ```ts
 * const memory = new MemoryClient(await ctx.connect(3));
 * const obj = await memory.alloc(100);
 * await memory.write(obj.id, 0, new TextEncoder().encode("hi"));
 * await memory.free(obj.id);
 * // in a request handler:
 * const bytes = memory.sync.read(obj.id, 0, 2);
 * ```
 *
 * @module
 */

import type { ClientConnection, Reply } from "../runtime/ipc.ts";
import { parseJson, unwrap } from "../runtime/ipc.ts";
import {
  decodeEmpty,
  decodeInfo,
  decodePage,
  decodeResolved,
  decodeUsage,
  encodeCreate,
  encodeId,
  encodeName,
  encodeNumber,
  encodePointer,
  encodeRead,
  encodeWrite,
  MemLabel,
  type MemoryStats,
  type ObjectInfo,
  type Pointer,
  type Resolved,
  type Usage,
} from "./protocol.ts";

/** One operation: its label, how to encode its arguments and decode its reply. */
interface Op<A extends unknown[], R> {
  label: MemLabel;
  what: string;
  encode: (...args: A) => Uint8Array;
  decode: (payload: Uint8Array) => R;
}

function op<A extends unknown[], R>(
  label: MemLabel,
  encode: (...args: A) => Uint8Array,
  decode: (payload: Uint8Array) => R,
): Op<A, R> {
  return { label, what: `memory ${MemLabel[label]}`, encode, decode };
}

const none = () => new Uint8Array(0);
const copy = (p: Uint8Array) => p;

/** Every operation of the protocol. */
const OPS = {
  alloc: op(MemLabel.ALLOC, (size: number) => encodeNumber(size), decodeInfo),
  free: op(MemLabel.FREE, (id: string) => encodeId(id), decodeEmpty),
  resolve: op(MemLabel.RESOLVE, (ptr: Pointer) => encodePointer(ptr), decodeResolved),
  create: op(
    MemLabel.NAME_CREATE,
    (name: string, size: number) => encodeCreate(name, size),
    decodeInfo,
  ),
  open: op(MemLabel.NAME_OPEN, (name: string) => encodeName(name), decodeInfo),
  deleteName: op(MemLabel.NAME_DELETE, (name: string) => encodeName(name), decodeEmpty),
  read: op(
    MemLabel.READ,
    (id: string, offset: number, length: number) => encodeRead(id, offset, length),
    copy,
  ),
  write: op(
    MemLabel.WRITE,
    (id: string, offset: number, data: Uint8Array) => encodeWrite(id, offset, data),
    decodeEmpty,
  ),
  usage: op(MemLabel.USAGE, none, decodeUsage),
  frameAlloc4k: op(MemLabel.FRAME_ALLOC_4K, none, decodePage),
  frameFree4k: op(MemLabel.FRAME_FREE_4K, (page: number) => encodeNumber(page), decodeEmpty),
  frameAlloc2m: op(MemLabel.FRAME_ALLOC_2M, none, decodePage),
  frameFree2m: op(MemLabel.FRAME_FREE_2M, (page: number) => encodeNumber(page), decodeEmpty),
  stats: op(MemLabel.STATS, none, (p: Uint8Array) => parseJson<MemoryStats>(p)),
};

/** Turns a reply into the decoded result, or throws the server's error. */
function finish<R>(o: Op<never, R>, reply: Reply): R {
  return o.decode(unwrap(reply, o.what));
}

/** The memory server, blocking: for request handlers (each call marks the worker WAITING). */
export class MemoryClientSync {
  constructor(readonly conn: ClientConnection) {}

  private run<A extends unknown[], R>(o: Op<A, R>, ...args: A): R {
    const payload = o.encode(...args);
    return finish(o as Op<never, R>, this.conn.callSync(o.label, payload));
  }

  /** Allocates `size` bytes (1..65536), zeroed, charged to the caller. */
  alloc(size: number): ObjectInfo {
    return this.run(OPS.alloc, size);
  }
  /** Frees an object the caller owns. */
  free(id: string): void {
    return this.run(OPS.free, id);
  }
  /** Where a persistent pointer points (byte offset in the server's PMO) and its object's size. */
  resolve(ptr: Pointer): Resolved {
    return this.run(OPS.resolve, ptr);
  }
  /** Allocates a named object (E_EXISTS if the name is taken). */
  create(name: string, size: number): ObjectInfo {
    return this.run(OPS.create, name, size);
  }
  /** The object with that name (E_NOT_FOUND). */
  open(name: string): ObjectInfo {
    return this.run(OPS.open, name);
  }
  /** Deletes a name and frees its object (owner only). */
  deleteName(name: string): void {
    return this.run(OPS.deleteName, name);
  }
  /** Reads up to 960 bytes of an object the caller owns. */
  read(id: string, offset: number, length: number): Uint8Array {
    return this.run(OPS.read, id, offset, length);
  }
  /** Writes up to 960 bytes into an object the caller owns. */
  write(id: string, offset: number, data: Uint8Array): void {
    return this.run(OPS.write, id, offset, data);
  }
  /** Pages and frame pages the caller uses, and its quotas. */
  usage(): Usage {
    return this.run(OPS.usage);
  }
  /** One 4 KiB page frame number. */
  frameAlloc4k(): number {
    return this.run(OPS.frameAlloc4k);
  }
  /** Frees a 4 KiB page frame. */
  frameFree4k(page: number): void {
    return this.run(OPS.frameFree4k, page);
  }
  /** A 2 MiB frame: its first page number (512-aligned). */
  frameAlloc2m(): number {
    return this.run(OPS.frameAlloc2m);
  }
  /** Frees a 2 MiB frame by its first page. */
  frameFree2m(page: number): void {
    return this.run(OPS.frameFree2m, page);
  }
  /** Server-wide counts and an invariant check. */
  stats(): MemoryStats {
    return this.run(OPS.stats);
  }
}

/** The memory server, asynchronous. `sync` blocks instead (for request handlers). */
export class MemoryClient {
  /** The same operations, blocking. */
  readonly sync: MemoryClientSync;

  constructor(readonly conn: ClientConnection) {
    this.sync = new MemoryClientSync(conn);
  }

  private async run<A extends unknown[], R>(o: Op<A, R>, ...args: A): Promise<R> {
    const payload = o.encode(...args);
    return finish(o as Op<never, R>, await this.conn.call(o.label, payload));
  }

  /** Allocates `size` bytes (1..65536), zeroed, charged to the caller. */
  alloc(size: number): Promise<ObjectInfo> {
    return this.run(OPS.alloc, size);
  }
  /** Frees an object the caller owns. */
  free(id: string): Promise<void> {
    return this.run(OPS.free, id);
  }
  /** Where a persistent pointer points (byte offset in the server's PMO) and its object's size. */
  resolve(ptr: Pointer): Promise<Resolved> {
    return this.run(OPS.resolve, ptr);
  }
  /** Allocates a named object (E_EXISTS if the name is taken). */
  create(name: string, size: number): Promise<ObjectInfo> {
    return this.run(OPS.create, name, size);
  }
  /** The object with that name (E_NOT_FOUND). */
  open(name: string): Promise<ObjectInfo> {
    return this.run(OPS.open, name);
  }
  /** Deletes a name and frees its object (owner only). */
  deleteName(name: string): Promise<void> {
    return this.run(OPS.deleteName, name);
  }
  /** Reads up to 960 bytes of an object the caller owns. */
  read(id: string, offset: number, length: number): Promise<Uint8Array> {
    return this.run(OPS.read, id, offset, length);
  }
  /** Writes up to 960 bytes into an object the caller owns. */
  write(id: string, offset: number, data: Uint8Array): Promise<void> {
    return this.run(OPS.write, id, offset, data);
  }
  /** Pages and frame pages the caller uses, and its quotas. */
  usage(): Promise<Usage> {
    return this.run(OPS.usage);
  }
  /** One 4 KiB page frame number. */
  frameAlloc4k(): Promise<number> {
    return this.run(OPS.frameAlloc4k);
  }
  /** Frees a 4 KiB page frame. */
  frameFree4k(page: number): Promise<void> {
    return this.run(OPS.frameFree4k, page);
  }
  /** A 2 MiB frame: its first page number (512-aligned). */
  frameAlloc2m(): Promise<number> {
    return this.run(OPS.frameAlloc2m);
  }
  /** Frees a 2 MiB frame by its first page. */
  frameFree2m(page: number): Promise<void> {
    return this.run(OPS.frameFree2m, page);
  }
  /** Server-wide counts and an invariant check. */
  stats(): Promise<MemoryStats> {
    return this.run(OPS.stats);
  }
}
