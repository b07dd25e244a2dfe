/**
 * One direction of a connection buffer: a ring of fixed slots, written
 * through the write barrier so pending messages are captured by checkpoints.
 *
 * Map of this file:
 * - {@link Ring}: `tryWrite` (producer), `peek`/`advance` (consumer). Head
 *   and tail are monotonic counters; a slot is `counter & (RING_SLOTS - 1)`.
 * - {@link Message}: a decoded slot, validated (a peer may have written
 *   garbage: a bad length becomes E_BAD_MESSAGE for that message only).
 * - {@link connectionRings}: the request and response rings of a buffer.
 *
 * The path of a message: docs/ARCHITECTURE.md "A message, followed".
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import {
  CONN_REQ_RING_OFFSET,
  CONN_RESP_RING_OFFSET,
  ConnWord,
  SlotField,
} from "../../kernel/abi/layout.ts";
import {
  MESSAGE_HEADER_BYTES,
  MESSAGE_PAYLOAD_BYTES_MAX,
  RING_SLOT_BYTES,
  RING_SLOTS,
} from "../../kernel/abi/limits.ts";
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
    /** The word counting payload bytes written (beside HEAD, so on a page already dirty). */
    private readonly bytesWord: number,
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
    mem.atomicStore(this.bytesWord, (words[this.bytesWord] + payload.length) | 0);
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

  /** The tags of the calls waiting to be read (one-way messages have none). */
  waitingTags(): Set<number> {
    const words = this.mem.words;
    const head = Atomics.load(words, this.headWord);
    const tagWord = SlotField.TAG >> 2;
    const tags = new Set<number>();
    for (let i = Atomics.load(words, this.tailWord); i !== head; i = (i + 1) | 0) {
      const tag = words[((this.base + (i & SLOT_MASK) * RING_SLOT_BYTES) >> 2) + tagWord] >>> 0;
      if (tag !== 0) tags.add(tag);
    }
    return tags;
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
    requests: new Ring(
      mem,
      CONN_REQ_RING_OFFSET,
      ConnWord.REQ_HEAD,
      ConnWord.REQ_TAIL,
      ConnWord.REQ_BYTES,
    ),
    responses: new Ring(
      mem,
      CONN_RESP_RING_OFFSET,
      ConnWord.RESP_HEAD,
      ConnWord.RESP_TAIL,
      ConnWord.RESP_BYTES,
    ),
  };
}
