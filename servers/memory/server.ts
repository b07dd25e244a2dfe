/**
 * The memory server's request handler: decodes each request, checks it and
 * calls the object heap (objects.ts) or the frame pool (frame_pool.ts).
 * Start-up and the server's state are in main.ts; the protocol is
 * protocol.ts.
 *
 * Each request is handled to completion, synchronously, between two safe
 * points. The owner of what a request allocates is its badge (the kernel
 * sets it from the capability the client connected with); a new owner gets
 * the default quotas on its first request. Every bad request gets its named
 * error and changes nothing: checks run before the first write.
 *
 * - {@link MemoryServer.handle}: dispatch on the label, one method per
 *   operation (objects, names, data, usage, frames, stats).
 *
 * @module
 */

import { Err } from "../../kernel/abi/errors.ts";
import { jsonPayload, type Request } from "../runtime/ipc.ts";
import { fail, intIn } from "./errors.ts";
import type { FramePool } from "./frame_pool.ts";
import type { ObjectHeap } from "./objects.ts";
import {
  DATA_BYTES_MAX,
  DEFAULT_QUOTA_PAGES,
  encodeInfo,
  encodePage,
  encodeResolved,
  encodeUsage,
  ID_BYTES,
  MemLabel,
  type MemoryStats,
  POINTER_BYTES,
} from "./protocol.ts";
import { PayloadReader } from "../../kernel/abi/payload.ts";

/** Refs, as objects.ts builds them: `(generation mod 2^25) * 2^28 + slot`. */
const REF_SLOT_SCALE = 2 ** 28;
const REF_GEN_MASK = 2 ** 25 - 1;

/** Serves memory requests over one heap and one frame pool (see the module map). */
export class MemoryServer {
  private requests = 0;
  private readonly idScratch = new Uint32Array(4);
  private readonly idBytes = new Uint8Array(ID_BYTES);
  private readonly idView = new DataView(this.idBytes.buffer);

  /** A server over `heap` and `frames`; `recovery` is what start-up recovered (null: fresh). */
  constructor(
    private readonly heap: ObjectHeap,
    private readonly frames: FramePool,
    private readonly resumed: boolean,
    private readonly recovery: Record<string, unknown> | null,
  ) {}

  /** A new owner gets the default heap quota before its first allocation. */
  private ensureOwner(owner: number): void {
    if (this.heap.usage(owner).quotaPages === Infinity) {
      this.heap.setQuota(owner, DEFAULT_QUOTA_PAGES);
    }
  }

  /** The heap ref of a binary id (E_NOT_FOUND for another heap's or an impossible id). */
  private refOfId(id: Uint8Array): number {
    const v = new DataView(id.buffer, id.byteOffset, ID_BYTES);
    const [i0, i1] = this.heap.instance;
    const gen = v.getUint32(8, true);
    const slot = v.getUint32(12, true);
    if (v.getUint32(0, true) !== i0 || v.getUint32(4, true) !== i1) {
      fail(Err.E_NOT_FOUND, "object id belongs to another heap instance");
    }
    if (slot >= REF_SLOT_SCALE - 1) fail(Err.E_NOT_FOUND, `no object in slot ${slot}`);
    return (gen & REF_GEN_MASK) * REF_SLOT_SCALE + slot;
  }

  /** E_NOT_OWNER unless `owner` owns the live object `ref` (E_NOT_FOUND if it is not live). */
  private checkOwner(ref: number, owner: number, what: string): void {
    const actual = this.heap.ownerOf(ref);
    if (actual !== owner) {
      fail(Err.E_NOT_OWNER, `${what}: the object belongs to owner ${actual}, not ${owner}`);
    }
  }

  private info(ref: number): Uint8Array {
    this.heap.writeId(ref, this.idScratch);
    for (let i = 0; i < 4; i++) this.idView.setUint32(i * 4, this.idScratch[i], true);
    return encodeInfo(this.idBytes, ref, this.heap.sizeOf(ref), this.heap.ownerOf(ref));
  }

  /** Zeroes a new object: its bytes may be what a freed object of another owner left. */
  private zero(ref: number): void {
    this.heap.mem.fill(this.heap.resolveRef(ref, 0), this.heap.sizeOf(ref), 0);
  }

  /**
   * Handles one request from client `req.badge`: returns the reply payload
   * (or nothing), or throws the request's named error having changed nothing.
   */
  handle(req: Request): Uint8Array | void {
    this.requests++;
    const owner = req.badge;
    const r = new PayloadReader(req.payload, `memory ${MemLabel[req.label] ?? req.label}`);
    switch (req.label) {
      case MemLabel.ALLOC:
        return this.alloc(r, owner);
      case MemLabel.FREE:
        return this.free(r, owner);
      case MemLabel.RESOLVE:
        return this.resolve(req, r);
      case MemLabel.NAME_CREATE:
        return this.nameCreate(r, owner);
      case MemLabel.NAME_OPEN:
        return this.info(this.heap.open(r.restText()));
      case MemLabel.NAME_DELETE:
        this.heap.delete(r.restText(), owner);
        return;
      case MemLabel.READ:
        return this.read(r, owner);
      case MemLabel.WRITE:
        return this.write(r, owner);
      case MemLabel.USAGE:
        r.end();
        return this.usage(owner);
      case MemLabel.FRAME_ALLOC_4K:
        r.end();
        return encodePage(this.frames.alloc4k(owner));
      case MemLabel.FRAME_ALLOC_2M:
        r.end();
        return encodePage(this.frames.alloc2m(owner));
      case MemLabel.FRAME_FREE_4K: {
        const page = r.f64();
        r.end();
        this.frames.free4k(page, owner);
        return;
      }
      case MemLabel.FRAME_FREE_2M: {
        const page = r.f64();
        r.end();
        this.frames.free2m(page, owner);
        return;
      }
      case MemLabel.STATS:
        r.end();
        return jsonPayload(this.stats());
      default:
        fail(Err.E_NOT_SUPPORTED, `no operation with label ${req.label}`);
    }
  }

  /** ALLOC: a zeroed object of the requested size; replies its info. */
  private alloc(r: PayloadReader, owner: number): Uint8Array {
    const size = r.f64();
    r.end();
    this.ensureOwner(owner);
    const ref = this.heap.alloc(size, owner);
    this.zero(ref);
    return this.info(ref);
  }

  /** FREE: frees the object with the given id. */
  private free(r: PayloadReader, owner: number): void {
    const id = r.bytes(ID_BYTES);
    r.end();
    this.heap.free(this.refOfId(id), owner);
  }

  /** RESOLVE: the byte offset a 24-byte pointer names, and its object's size. */
  private resolve(req: Request, r: PayloadReader): Uint8Array {
    if (req.payload.length !== POINTER_BYTES) {
      fail(Err.E_BAD_MESSAGE, `resolve: a pointer is ${POINTER_BYTES} bytes`);
    }
    const ref = this.refOfId(r.bytes(ID_BYTES));
    const offset = this.heap.resolve(req.payload);
    return encodeResolved(offset, this.heap.sizeOf(ref));
  }

  /** NAME_CREATE: a zeroed named object; replies its info. */
  private nameCreate(r: PayloadReader, owner: number): Uint8Array {
    const size = r.f64();
    const name = r.restText();
    this.ensureOwner(owner);
    const ref = this.heap.create(name, size, owner);
    this.zero(ref);
    return this.info(ref);
  }

  /** READ: up to DATA_BYTES_MAX bytes of an object the client owns. */
  private read(r: PayloadReader, owner: number): Uint8Array {
    const id = r.bytes(ID_BYTES);
    const offset = r.f64();
    const length = r.f64();
    r.end();
    const ref = this.refOfId(id);
    intIn(length, 0, DATA_BYTES_MAX, "read: length");
    const size = this.heap.sizeOf(ref);
    this.checkOwner(ref, owner, "read");
    intIn(
      offset,
      0,
      size - length,
      `read of ${length} bytes from an object of ${size}: offset`,
    );
    return this.heap.view(ref).slice(offset, offset + length);
  }

  /** WRITE: up to DATA_BYTES_MAX bytes into an object the client owns. */
  private write(r: PayloadReader, owner: number): void {
    const id = r.bytes(ID_BYTES);
    const offset = r.f64();
    const data = r.rest();
    const ref = this.refOfId(id);
    if (data.length > DATA_BYTES_MAX) {
      fail(Err.E_BAD_ARGUMENT, `write of ${data.length} bytes is over ${DATA_BYTES_MAX}`);
    }
    const size = this.heap.sizeOf(ref);
    this.checkOwner(ref, owner, "write");
    intIn(
      offset,
      0,
      size - data.length,
      `write of ${data.length} bytes to an object of ${size}: offset`,
    );
    this.heap.write(ref, offset, data);
  }

  /** USAGE: the client's heap and frame usage and quotas. */
  private usage(owner: number): Uint8Array {
    const h = this.heap.usage(owner);
    const f = this.frames.usage(owner);
    return encodeUsage({
      pages: h.usedPages,
      quota: h.quotaPages === Infinity ? DEFAULT_QUOTA_PAGES : h.quotaPages,
      framePages: f.pages,
      frameQuota: f.quota,
    });
  }

  /** STATS: counts, the recovery report and the result of both invariant checks. */
  private stats(): MemoryStats {
    let check = "ok";
    try {
      this.heap.check();
      this.frames.check();
    } catch (e) {
      check = e instanceof Error ? e.message : String(e);
    }
    return {
      heap: this.heap.stats(),
      frames: this.frames.stats(),
      requests: this.requests,
      resumed: this.resumed,
      recovery: this.recovery,
      check,
    };
  }
}
