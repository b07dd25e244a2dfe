/**
 * The binary payload codec of IPC messages: a request or reply built and
 * read field by field, every number little-endian. Servers build their
 * protocols on it (servers/memory/protocol.ts, servers/fs/protocol.ts).
 *
 * Map of this file:
 * - {@link PayloadReader}: reads fields in order; a payload that runs short,
 *   has bytes left over or holds text that is not UTF-8 is E_BAD_MESSAGE.
 * - {@link PayloadWriter}: appends fields into a buffer of at most
 *   MESSAGE_PAYLOAD_BYTES_MAX bytes (or a capacity given); bytes past it are
 *   E_MESSAGE_TOO_LARGE.
 *
 * @module
 */

import { Err, TardigradeError } from "./errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "./limits.ts";

const strictDecoder = new TextDecoder("utf-8", { fatal: true });

function bad(what: string): never {
  throw new TardigradeError(Err.E_BAD_MESSAGE, what);
}

/** Reads a request or reply field by field; E_BAD_MESSAGE when it runs short. */
export class PayloadReader {
  private at = 0;
  private readonly view: DataView;

  /** `what` names the payload in error messages (e.g. "memory READ"). */
  constructor(readonly payload: Uint8Array, readonly what: string) {
    this.view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  }

  private need(n: number): number {
    const at = this.at;
    if (at + n > this.payload.length) {
      bad(`${this.what}: payload of ${this.payload.length} bytes is too short`);
    }
    this.at = at + n;
    return at;
  }

  /** The next 64-bit float. */
  f64(): number {
    return this.view.getFloat64(this.need(8), true);
  }

  /** The next unsigned 32-bit integer. */
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  /** The next signed 32-bit integer. */
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }

  /** The next `n` bytes (a view). */
  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.payload.subarray(at, at + n);
  }

  /** Everything not read yet (a view). */
  rest(): Uint8Array {
    return this.bytes(this.payload.length - this.at);
  }

  /** The rest as strict UTF-8 (E_BAD_MESSAGE if it is not). */
  restText(): string {
    try {
      return strictDecoder.decode(this.rest());
    } catch {
      return bad(`${this.what}: name is not valid UTF-8`);
    }
  }

  /** E_BAD_MESSAGE if bytes are left over. */
  end(): void {
    if (this.at !== this.payload.length) {
      bad(`${this.what}: ${this.payload.length - this.at} unexpected trailing bytes`);
    }
  }
}

/** Builds a payload field by field. */
export class PayloadWriter {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private at = 0;

  /** A payload of at most `capacity` bytes. */
  constructor(capacity = MESSAGE_PAYLOAD_BYTES_MAX) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  /** Appends a 64-bit float. */
  f64(v: number): this {
    this.view.setFloat64(this.at, v, true);
    this.at += 8;
    return this;
  }

  /** Appends `v` as an unsigned 32-bit integer (taken modulo 2^32). */
  u32(v: number): this {
    this.view.setUint32(this.at, v >>> 0, true);
    this.at += 4;
    return this;
  }

  /** Appends `v` as a signed 32-bit integer. */
  i32(v: number): this {
    this.view.setInt32(this.at, v | 0, true);
    this.at += 4;
    return this;
  }

  /** Appends `b`; E_MESSAGE_TOO_LARGE if it would pass the capacity. */
  bytes(b: Uint8Array): this {
    if (this.at + b.length > this.buf.length) {
      throw new TardigradeError(
        Err.E_MESSAGE_TOO_LARGE,
        `payload would be ${this.at + b.length} bytes, over ${this.buf.length}`,
      );
    }
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }

  /** The payload so far (a copy). */
  done(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}
