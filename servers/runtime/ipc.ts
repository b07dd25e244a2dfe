/**
 * IPC over a connection buffer: two rings of fixed slots, written through
 * the write barrier so pending messages are captured by checkpoints.
 *
 * Map of this file:
 * - {@link Ring}: one direction; `tryWrite` (producer), `peek`/`advance`
 *   (consumer). Head and tail are monotonic counters; a slot is
 *   `counter & (RING_SLOTS - 1)`.
 * - {@link Message}: a decoded slot, validated (a peer may have written
 *   garbage: a bad length becomes E_BAD_MESSAGE for that message only).
 * - {@link ClientConnection}: `call` (async), `callSync` (spin, then sleep),
 *   `send` (one-way, for batches: `send` many, then `flush`).
 * - {@link ServerConnection}: the server side, driven by the program loop.
 *
 * @module
 */

import { Err, errName, TardigradeError } from "../../kernel/abi/errors.ts";
import {
  CONN_REQ_RING_OFFSET,
  CONN_RESP_RING_OFFSET,
  ConnWord,
  DoorbellWord,
  SlotField,
} from "../../kernel/abi/layout.ts";
import {
  MESSAGE_HEADER_BYTES,
  MESSAGE_PAYLOAD_BYTES_MAX,
  RING_SLOT_BYTES,
  RING_SLOTS,
  SPIN_ITERATIONS,
  WAIT_SLICE_MS,
} from "../../kernel/abi/limits.ts";
import type { ConnectionHandle } from "../../kernel/abi/protocol.ts";
import { ringDoorbell, spinDoorbell } from "../../kernel/abi/doorbell.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";

const SLOT_MASK = RING_SLOTS - 1;

/** One received message. `payload` is a copy, unless `peek(false)` said otherwise. */
export interface Message {
  label: number;
  tag: number;
  status: Err;
  payload: Uint8Array;
}

/** One direction of a connection. */
export class Ring {
  constructor(
    private readonly mem: PersistentMemory,
    private readonly base: number,
    private readonly headWord: number,
    private readonly tailWord: number,
  ) {}

  /** Messages waiting to be read. */
  pending(): number {
    return (Atomics.load(this.mem.words, this.headWord) -
      Atomics.load(this.mem.words, this.tailWord)) | 0;
  }

  /**
   * Writes one message; false when the ring is full. Throws E_MESSAGE_TOO_LARGE.
   * `claimedLength` (fault injection only) writes that length into the header
   * instead, as a hostile peer could.
   */
  tryWrite(
    label: number,
    tag: number,
    status: number,
    payload: Uint8Array,
    claimedLength = payload.length,
  ): boolean {
    if (payload.length > MESSAGE_PAYLOAD_BYTES_MAX) {
      throw new TardigradeError(
        Err.E_MESSAGE_TOO_LARGE,
        `message of ${payload.length} bytes is over the limit of ${MESSAGE_PAYLOAD_BYTES_MAX}; pass large data through a shared PMO`,
        { bytes: payload.length, limit: MESSAGE_PAYLOAD_BYTES_MAX },
      );
    }
    const words = this.mem.words;
    const head = Atomics.load(words, this.headWord);
    if (((head - Atomics.load(words, this.tailWord)) | 0) >= RING_SLOTS) return false;
    const at = this.base + (head & SLOT_MASK) * RING_SLOT_BYTES;
    const mem = this.mem;
    // A slot never straddles a page: one barrier call covers header and payload.
    mem.markDirty(at, MESSAGE_HEADER_BYTES + payload.length);
    const w = at >> 2;
    words[w + (SlotField.LENGTH >> 2)] = claimedLength;
    words[w + (SlotField.LABEL >> 2)] = label;
    words[w + (SlotField.TAG >> 2)] = tag;
    words[w + (SlotField.STATUS >> 2)] = status;
    if (payload.length > 0) mem.bytes.set(payload, at + MESSAGE_HEADER_BYTES);
    mem.atomicStore(this.headWord, (head + 1) | 0);
    return true;
  }

  /**
   * The oldest unread message, or null. A slot with an impossible length
   * reads as E_BAD_MESSAGE. With `copy` false the payload is a view into the
   * slot, valid only until `advance()` (allocating a copy costs more than the
   * rest of a message here).
   */
  peek(copy = true): Message | null {
    const words = this.mem.words;
    const tail = Atomics.load(words, this.tailWord);
    if (Atomics.load(words, this.headWord) === tail) return null;
    const at = this.base + (tail & SLOT_MASK) * RING_SLOT_BYTES;
    const w = at >> 2;
    const length = words[w + (SlotField.LENGTH >> 2)] >>> 0;
    const label = words[w + (SlotField.LABEL >> 2)] >>> 0;
    const tag = words[w + (SlotField.TAG >> 2)] >>> 0;
    if (length > MESSAGE_PAYLOAD_BYTES_MAX) {
      return { label, tag, status: Err.E_BAD_MESSAGE, payload: new Uint8Array(0) };
    }
    const from = at + MESSAGE_HEADER_BYTES;
    return {
      label,
      tag,
      status: words[w + (SlotField.STATUS >> 2)] >>> 0,
      payload: copy
        ? this.mem.bytes.slice(from, from + length)
        : this.mem.bytes.subarray(from, from + length),
    };
  }

  /** True when a waiting message is a call (a non-zero tag): its caller waits for the reply. */
  hasCall(): boolean {
    const words = this.mem.words;
    const head = Atomics.load(words, this.headWord);
    const tag = SlotField.TAG >> 2;
    for (let i = Atomics.load(words, this.tailWord); i !== head; i = (i + 1) | 0) {
      if (words[((this.base + (i & SLOT_MASK) * RING_SLOT_BYTES) >> 2) + tag] !== 0) return true;
    }
    return false;
  }

  /** Consumes the message returned by the last `peek`. */
  advance(): void {
    const tail = Atomics.load(this.mem.words, this.tailWord);
    this.mem.atomicStore(this.tailWord, (tail + 1) | 0);
  }
}

/** The two rings of a connection buffer. */
export function connectionRings(mem: PersistentMemory): { requests: Ring; responses: Ring } {
  return {
    requests: new Ring(mem, CONN_REQ_RING_OFFSET, ConnWord.REQ_HEAD, ConnWord.REQ_TAIL),
    responses: new Ring(mem, CONN_RESP_RING_OFFSET, ConnWord.RESP_HEAD, ConnWord.RESP_TAIL),
  };
}

/** What a client waits with: its doorbell and the run-state hooks of its program loop. */
export interface Waiter {
  doorbell: Int32Array;
  /**
   * Called before sleeping or spinning in a blocking call. Inside a step (a
   * handler's `callSync`) this is not a safe point: the worker stays RUNNING.
   */
  beginWait(): void;
  /** Called after: a worker that was WAITING between steps parks first if the line is up. */
  endWait(): void;
}

/** A reply to a call. */
export interface Reply {
  status: Err;
  payload: Uint8Array;
}

/** The client side of a connection. */
export class ClientConnection {
  readonly connId: number;
  readonly slot: number;
  private readonly mem: PersistentMemory;
  private readonly requests: Ring;
  private readonly responses: Ring;
  private peerDoorbell: Int32Array;
  private nextTag = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  /** Replies that arrived for tags nobody waits on (e.g. after a resume). */
  orphanReplies = 0;
  /** Calls sent again after the server died (see {@link retryOnPeerDeath}). */
  retried = 0;
  private retry: { attempts: number; waitMs: number } | undefined;
  /** Calls with retry whose outcome is not known yet (they may wait for a restart). */
  private retrying = 0;
  private readonly reopenWaiters: Array<() => void> = [];

  constructor(handle: ConnectionHandle, private readonly waiter: Waiter) {
    this.connId = handle.connId;
    this.slot = handle.slot;
    this.mem = new PersistentMemory(handle.ring);
    ({ requests: this.requests, responses: this.responses } = connectionRings(this.mem));
    this.peerDoorbell = new Int32Array(handle.peerDoorbell);
    this.nextTag = this.mem.getU32(ConnWord.NEXT_TAG * 4) || 1;
  }

  /**
   * Calls made and not yet answered (counting a retried call as one until it
   * is settled): while above 0 the step that made them is in flight.
   */
  get awaiting(): number {
    return this.pending.size + this.retrying;
  }

  /** True when the kernel closed the connection (server died or capability revoked). */
  get closed(): boolean {
    return Atomics.load(this.mem.words, ConnWord.CLOSED) !== 0;
  }

  /** The server restarted: its new doorbell. */
  setPeerDoorbell(doorbell: SharedArrayBuffer): void {
    this.peerDoorbell = new Int32Array(doorbell);
    for (const w of this.reopenWaiters.splice(0)) w();
  }

  /**
   * Transparent retry, for a client whose requests are idempotent: from now
   * on `call` that fails with E_PEER_DIED (the server died) waits for the
   * server to be back, up to `waitMs`, and sends the request again, at most
   * `attempts` times in all. A connection closed for good (revoked) still
   * fails after the wait.
   */
  retryOnPeerDeath(attempts: number, waitMs: number): void {
    this.retry = { attempts, waitMs };
  }

  /** Resolves when the connection is open again (true) or after `ms` (false). */
  private reopened(ms: number): Promise<boolean> {
    if (!this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(!this.closed), ms);
      this.reopenWaiters.push(() => {
        clearTimeout(timer);
        resolve(!this.closed);
      });
    });
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new TardigradeError(
        Err.E_PEER_DIED,
        `connection ${this.connId}: the server died or the capability was revoked; retry after it restarts`,
        { conn: this.connId },
      );
    }
  }

  private takeTag(): number {
    const tag = this.nextTag;
    this.nextTag = (tag % 0x7fffffff) + 1;
    // The tag counter lives in the ring so that tags stay unique across a resume.
    this.mem.setU32(ConnWord.NEXT_TAG * 4, this.nextTag);
    return tag;
  }

  /** One-way message, no reply. False when the request ring is full. Call `flush` after a batch. */
  send(label: number, payload: Uint8Array): boolean {
    this.checkOpen();
    return this.requests.tryWrite(label, 0, 0, payload);
  }

  /** Wakes the server after a batch of `send`s. */
  flush(): void {
    ringDoorbell(this.peerDoorbell);
  }

  /** Writes a request with a fresh tag and wakes the server; returns the tag. */
  private request(label: number, payload: Uint8Array, claimedLength = payload.length): number {
    this.checkOpen();
    const tag = this.takeTag();
    if (!this.requests.tryWrite(label, tag, 0, payload, claimedLength)) {
      throw new TardigradeError(
        Err.E_WOULD_BLOCK,
        `connection ${this.connId}: request ring is full; wait for replies, then retry`,
        { conn: this.connId },
      );
    }
    ringDoorbell(this.peerDoorbell);
    return tag;
  }

  /**
   * Calls the server; resolves with its reply. Needs the program loop to be
   * running. With {@link retryOnPeerDeath}, a call the server's death cut
   * short is made again once it is back.
   */
  call(label: number, payload: Uint8Array = new Uint8Array(0)): Promise<Reply> {
    if (!this.retry) return this.callOnce(label, payload);
    return this.callRetrying(label, payload.slice(), this.retry);
  }

  private callOnce(label: number, payload: Uint8Array): Promise<Reply> {
    const tag = this.request(label, payload);
    return new Promise((resolve) => this.pending.set(tag, resolve));
  }

  private async callRetrying(
    label: number,
    payload: Uint8Array,
    retry: { attempts: number; waitMs: number },
  ): Promise<Reply> {
    this.retrying++;
    try {
      return await this.retryLoop(label, payload, retry);
    } finally {
      this.retrying--;
    }
  }

  private async retryLoop(
    label: number,
    payload: Uint8Array,
    retry: { attempts: number; waitMs: number },
  ): Promise<Reply> {
    for (let attempt = 1;; attempt++) {
      let reply: Reply;
      try {
        reply = await this.callOnce(label, payload);
      } catch (e) {
        if (!(e instanceof TardigradeError && e.code === Err.E_PEER_DIED)) throw e;
        reply = { status: Err.E_PEER_DIED, payload: encoder.encode(e.message) };
      }
      if (reply.status !== Err.E_PEER_DIED || attempt >= retry.attempts) return reply;
      this.retried++;
      await this.reopened(retry.waitMs);
    }
  }

  /**
   * Fault injection: a call whose slot header claims `claimedLength` payload
   * bytes (what a hostile client can write into its own ring). The server
   * must answer E_BAD_MESSAGE.
   */
  forgeRequest(label: number, claimedLength: number): Promise<Reply> {
    const tag = this.request(label, new Uint8Array(0), claimedLength);
    return new Promise((resolve) => this.pending.set(tag, resolve));
  }

  /** Calls the server and blocks this worker until the reply (spin first, then sleep). */
  callSync(label: number, payload: Uint8Array = new Uint8Array(0)): Reply {
    const tag = this.request(label, payload);
    let mine: Reply | null = null;
    const words = this.mem.words;
    const respHead = ConnWord.RESP_HEAD;
    const door = this.waiter.doorbell;
    for (;;) {
      // Read the head before taking replies: a reply that lands after the look moves it.
      const head = Atomics.load(words, respHead);
      mine = this.takeReplies(tag);
      if (mine) return mine;
      this.checkOpen();
      this.waiter.beginWait();
      // Spin on the response head: the reply usually comes within a microsecond.
      let moved = false;
      for (let i = 0; i < SPIN_ITERATIONS; i++) {
        if (Atomics.load(words, respHead) !== head || Atomics.load(words, ConnWord.CLOSED) !== 0) {
          moved = true;
          break;
        }
      }
      if (!moved) {
        const seen = Atomics.load(door, DoorbellWord.RING);
        Atomics.store(door, DoorbellWord.SLEEPING, 1);
        if (Atomics.load(words, respHead) === head && !spinDoorbell(door, seen, 1)) {
          Atomics.wait(door, DoorbellWord.RING, seen, WAIT_SLICE_MS);
        }
        Atomics.store(door, DoorbellWord.SLEEPING, 0);
      }
      this.waiter.endWait();
    }
  }

  /** Reads every reply; resolves async calls; returns the one for `wanted` if it came. */
  takeReplies(wanted = -1): Reply | null {
    let found: Reply | null = null;
    for (let m = this.responses.peek(); m; m = this.responses.peek()) {
      this.responses.advance();
      const reply = { status: m.status, payload: m.payload };
      if (m.tag === wanted) found = reply;
      else {
        const resolve = this.pending.get(m.tag);
        if (resolve) {
          this.pending.delete(m.tag);
          resolve(reply);
        } else this.orphanReplies++;
      }
    }
    return found;
  }

  /** Polls for replies to async calls; returns how many arrived. Used by the program loop. */
  poll(): number {
    if (this.pending.size === 0 || this.responses.pending() === 0) return 0;
    const before = this.pending.size;
    this.takeReplies();
    return before - this.pending.size;
  }

  /** Fails every waiting call with E_PEER_DIED (the server died). */
  failPending(reason: string): void {
    for (const [tag, resolve] of this.pending) {
      this.pending.delete(tag);
      resolve({ status: Err.E_PEER_DIED, payload: new TextEncoder().encode(reason) });
    }
  }
}

/**
 * A request as a server handler sees it. Its payload is valid only while the
 * handler runs: copy what you keep.
 */
export interface Request extends Message {
  /** Badge of the capability the client connected with: set by the kernel, not the client. */
  badge: number;
  connId: number;
}

/** What a request handler returns: a payload (status OK), or nothing for an empty reply. */
export type HandlerResult = Uint8Array | void;

/** A request handler. Throw a TardigradeError to reply with its code. */
export type RequestHandler = (req: Request) => HandlerResult;

/** The server side of a connection. */
export class ServerConnection {
  readonly connId: number;
  readonly badge: number;
  private readonly mem: PersistentMemory;
  private readonly requests: Ring;
  private readonly responses: Ring;
  private peerDoorbell: Int32Array;

  constructor(handle: ConnectionHandle, private readonly handler: RequestHandler) {
    this.connId = handle.connId;
    this.badge = handle.badge;
    this.mem = new PersistentMemory(handle.ring);
    ({ requests: this.requests, responses: this.responses } = connectionRings(this.mem));
    this.peerDoorbell = new Int32Array(handle.peerDoorbell);
  }

  /** The client restarted: its new doorbell. */
  setPeerDoorbell(doorbell: SharedArrayBuffer): void {
    this.peerDoorbell = new Int32Array(doorbell);
  }

  /**
   * True when a call waits in the request ring (a client in the middle of a
   * step waits for it) and `serve` can answer it now: the connection is open
   * and the response ring has room.
   */
  hasServableCall(): boolean {
    if (Atomics.load(this.mem.words, ConnWord.CLOSED) !== 0) return false;
    return this.responses.pending() < RING_SLOTS && this.requests.hasCall();
  }

  /**
   * Handles up to `budget` requests, each to completion, replying to calls.
   * Returns how many it handled. Stops early when the response ring is full.
   */
  serve(budget: number): number {
    let handled = 0;
    let replied = false;
    for (; handled < budget; handled++) {
      // The request's payload is a view into its slot: valid until advance(), after the reply.
      const m = this.requests.peek(false);
      if (!m) break;
      if (m.tag !== 0 && this.responses.pending() >= RING_SLOTS) break;
      const { status, payload } = this.run(m);
      if (m.tag !== 0) {
        this.responses.tryWrite(m.label, m.tag, status, payload);
        replied = true;
      }
      this.requests.advance();
    }
    if (replied) ringDoorbell(this.peerDoorbell);
    return handled;
  }

  private run(m: Message): Reply {
    if (m.status === Err.E_BAD_MESSAGE) {
      return errorReply(
        new TardigradeError(
          Err.E_BAD_MESSAGE,
          `request has a length over ${MESSAGE_PAYLOAD_BYTES_MAX}`,
        ),
      );
    }
    try {
      const out = this.handler({ ...m, badge: this.badge, connId: this.connId });
      return { status: Err.OK, payload: out ?? new Uint8Array(0) };
    } catch (e) {
      return errorReply(e);
    }
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function errorReply(e: unknown): Reply {
  const te = e instanceof TardigradeError
    ? e
    : new TardigradeError(Err.E_INTERNAL, e instanceof Error ? e.message : String(e));
  const text = encoder.encode(te.message.slice(0, 900));
  return { status: te.code, payload: text };
}

/** Turns an error reply into a TardigradeError (throws), or returns the payload of an OK reply. */
export function unwrap(reply: Reply, what: string): Uint8Array {
  if (reply.status === Err.OK) return reply.payload;
  const text = decoder.decode(reply.payload);
  throw new TardigradeError(reply.status, `${what}: ${text || errName(reply.status)}`);
}

/** Encodes a value as a JSON payload. */
export function jsonPayload(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decodes a JSON payload; E_BAD_MESSAGE if it is not JSON. */
export function parseJson<T = unknown>(payload: Uint8Array): T {
  try {
    return JSON.parse(decoder.decode(payload)) as T;
  } catch {
    throw new TardigradeError(Err.E_BAD_MESSAGE, `payload of ${payload.length} bytes is not JSON`);
  }
}
