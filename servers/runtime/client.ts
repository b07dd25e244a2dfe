/**
 * The client side of a connection: `call` (async), `callSync` (spin, then
 * sleep), `send` (one-way, for batches: `send` many, then `flush`), and the
 * transparent retry after a server's death.
 *
 * The path of a message: docs/ARCHITECTURE.md "A message, followed".
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { ConnWord, DoorbellWord } from "../../kernel/abi/layout.ts";
import { SPIN_ITERATIONS, WAIT_SLICE_MS } from "../../kernel/abi/limits.ts";
import type { ConnectionHandle } from "../../kernel/abi/protocol.ts";
import { ringDoorbell, spinDoorbell } from "../../kernel/abi/doorbell.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { connectionRings, type Ring } from "./ring.ts";

const encoder = new TextEncoder();

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

  /**
   * The server died: every waiting call whose outcome is unknown fails with
   * E_PEER_DIED (its request was taken, so it may have run). When the kernel
   * is `restarting` the server, a call whose request is still in the ring
   * waits for the new worker instead.
   */
  failPending(reason: string, restarting = false): void {
    // Replies the server wrote before it died are answers: take them first.
    this.takeReplies();
    // A call still waiting in the request ring was never started: the restarted server serves
    // it (rings keep their messages), so it waits on. Sending it again would run it twice.
    const waiting = restarting ? this.requests.waitingTags() : new Set<number>();
    for (const [tag, resolve] of this.pending) {
      if (waiting.has(tag)) continue;
      this.pending.delete(tag);
      resolve({ status: Err.E_PEER_DIED, payload: new TextEncoder().encode(reason) });
    }
  }
}
