/**
 * SharedArrayBuffer layouts shared by the kernel, the board and the runtime,
 * each declared once with its word offsets.
 *
 * - PMO: a data buffer (`pages * PAGE_BYTES`), a page-state buffer (one
 *   byte a page, {@link PageState}) and a dirty summary (one flag per PMO,
 *   one per chunk of {@link DIRTY_CHUNK_PAGES} pages, {@link SummaryByte});
 *   the write barrier sets the state byte, then the summary.
 * - Control block: private to one worker and the kernel; freeze line and
 *   run state (the safe-point protocol, docs/ARCHITECTURE.md "Freeze").
 * - Doorbell: one wake word per thread; a holder may only wake it.
 * - Connection: a PMO of its own, shared by client, server and kernel:
 *   a header page and two rings (requests, responses) of fixed slots.
 *
 * @module
 */

import { assert } from "./errors.ts";
import { PAGE_BYTES, RING_SLOT_BYTES, RING_SLOTS } from "./limits.ts";

/** The buffers of one mapped memory object. */
export interface PmoBuffers {
  /** Kernel object id of the PMO. */
  id: number;
  /** The pages: `pageCount * PAGE_BYTES` bytes. */
  data: SharedArrayBuffer;
  /** One {@link PageState} byte per page. */
  pageState: SharedArrayBuffer;
  /** Same size as `data`: where a writer saves a COW_PENDING page before changing it. */
  backup: SharedArrayBuffer;
  /**
   * The dirty summary ({@link dirtySummaryBytes} bytes): byte
   * {@link SummaryByte.PMO} is 1 when some page was dirtied since the last
   * cut, and byte `SummaryByte.CHUNKS + c` is 1 when a page of chunk `c`
   * (pages `c * DIRTY_CHUNK_PAGES` onwards) was. Set by the barrier's slow
   * path after the page state, cleared by the page scan inside the pause
   * before it reads the states, so the scan skips clean chunks unread.
   */
  dirtySummary: SharedArrayBuffer;
}

/** Pages per chunk of the dirty summary (a power of two). */
export const DIRTY_CHUNK_PAGES = 64;
/** log2 of {@link DIRTY_CHUNK_PAGES}: a page's chunk is `page >> DIRTY_CHUNK_SHIFT`. */
export const DIRTY_CHUNK_SHIFT = 6;

/** Byte offsets in a PMO's dirty summary. */
export enum SummaryByte {
  /** 1 when any page of the PMO was dirtied since the last cut. */
  PMO = 0,
  /** The first chunk's byte (word-aligned, so the scan reads four chunks at a time). */
  CHUNKS = 4,
}

/** Chunks of the dirty summary of a PMO of `pages` pages. */
export function dirtyChunks(pages: number): number {
  return (pages + DIRTY_CHUNK_PAGES - 1) >> DIRTY_CHUNK_SHIFT;
}

/** Bytes of the dirty summary of a PMO of `pages` pages (whole words). */
export function dirtySummaryBytes(pages: number): number {
  return SummaryByte.CHUNKS + ((dirtyChunks(pages) + 3) & ~3);
}

/** State byte of one page, written by the barrier and the checkpoint manager. */
export enum PageState {
  /** Unchanged since the last checkpoint. */
  CLEAN = 0,
  /** Written since the last checkpoint. */
  DIRTY = 1,
  /** Captured by a copy-on-write checkpoint but not yet copied: a writer must copy it first. */
  COW_PENDING = 2,
  /** Being copied by the checkpoint manager or by a writer; wait, then retry. */
  COW_COPYING = 3,
}

/** Word offsets (Int32) in a worker's control block. */
export enum ControlWord {
  /** The freeze line for this worker: a {@link FreezeLine} value. */
  FREEZE = 0,
  /** The worker's {@link RunState}. */
  RUN_STATE = 1,
  /**
   * Bumped by the worker each time it leaves PARKED or WAITING, before it
   * runs anything: the kernel reads it twice around raising
   * FreezeLine.CAPTURE, so a worker that woke in between is seen.
   */
  WAKE_SEQ = 2,
  /**
   * System calls the worker has sent and not had answered (kept by the
   * worker as it sends and receives): during a freeze the kernel then turns
   * its event loop to answer them, so the step they belong to can finish.
   */
  SYSCALLS_PENDING = 3,
  /** Milliseconds timestamp (low 31 bits) when the current handler began; 0 when idle. */
  HANDLER_STARTED_MS = 4,
  /**
   * Messages the kernel has posted to the worker. The worker sleeps only when
   * it has received that many: a posted message is never left waiting behind
   * a sleep (Deno delivers it only when the worker's event loop turns).
   */
  POSTED = 5,
  /**
   * Bumped by the worker at every turn of its loop and every wake from a
   * wait (at least every WAIT_SLICE_MS while it lives): a worker that stops
   * beating has exited (`self.close`, `Deno.exit`), which Deno does not report.
   */
  HEARTBEAT = 6,
  /**
   * 1 while the worker is in a step (a handler, its promise, the calls and
   * system calls it awaits), 0 between steps, as the worker last saw it: a
   * hint, not part of the freeze protocol. With group commit the kernel
   * defers a checkpoint the period alone asks for while a step is in flight,
   * so that its freeze does not hold every other worker parked until that
   * step ends (kernel/checkpoint.ts).
   */
  IN_STEP = 7,
  /** Number of words. */
  COUNT = 8,
}

/**
 * Values of ControlWord.FREEZE. A checkpoint raises DRAIN: workers finish
 * the steps they are in (serving the nested calls those steps make) and
 * park between steps. Once all are parked the kernel raises CAPTURE, reads
 * every WAKE_SEQ again, and copies; a parked worker that wakes for a call
 * under CAPTURE waits for the thaw instead of serving it.
 */
export enum FreezeLine {
  /** Run freely. */
  OFF = 0,
  /** Finish the step in flight, then park; parked workers still serve calls. */
  DRAIN = 1,
  /** The kernel is copying: parked workers stay parked. */
  CAPTURE = 2,
}

/** A worker's run state, for the freeze protocol. */
export enum RunState {
  /** Starting up: not yet at its first safe point. */
  STARTING = 0,
  /** Running a handler, or in the middle of a step (even while it blocks on a call). */
  RUNNING = 1,
  /** Blocked waiting for work between steps: a safe point, frozen without being woken. */
  WAITING = 2,
  /** Parked between steps because the freeze line is up. */
  PARKED = 3,
}

/** Bytes of a control block. */
export const CONTROL_BLOCK_BYTES = ControlWord.COUNT * 4;

/** Word offsets (Int32) in a doorbell buffer. */
export enum DoorbellWord {
  /** Incremented by anyone who wakes the owner. */
  RING = 0,
  /** 1 while the owner sleeps in Atomics.wait: only then must a waker call Atomics.notify. */
  SLEEPING = 1,
  COUNT = 16,
}

/** Bytes of a doorbell buffer (its own cache line). */
export const DOORBELL_BYTES = DoorbellWord.COUNT * 4;

/** Word offsets (Int32) in a connection's header page. */
export enum ConnWord {
  /** Requests written by the client (monotonic count). */
  REQ_HEAD = 0,
  /** Payload bytes of every request written so far (modulo 2^32; the system report's). */
  REQ_BYTES = 1,
  /** Requests consumed by the server. */
  REQ_TAIL = 16,
  /** Responses written by the server. */
  RESP_HEAD = 32,
  /** Payload bytes of every response written so far (modulo 2^32). */
  RESP_BYTES = 33,
  /** Responses consumed by the client. */
  RESP_TAIL = 48,
  /** Set to 1 by the kernel when the connection is closed (peer died or revoked). */
  CLOSED = 64,
  /** The client's next call tag, kept here so tags stay unique across a resume. */
  NEXT_TAG = 80,
}

/** Byte offset of the request ring in a connection buffer. */
export const CONN_REQ_RING_OFFSET = PAGE_BYTES;
/** Byte offset of the response ring. */
export const CONN_RESP_RING_OFFSET = CONN_REQ_RING_OFFSET + RING_SLOTS * RING_SLOT_BYTES;
/** Bytes of a whole connection buffer. */
export const CONN_BYTES = CONN_RESP_RING_OFFSET + RING_SLOTS * RING_SLOT_BYTES;
/** Pages of a connection buffer (a connection is a PMO). */
export const CONN_PAGES = CONN_BYTES / PAGE_BYTES;

/** Byte offsets inside one ring slot's header. */
export enum SlotField {
  /** Payload length in bytes. */
  LENGTH = 0,
  /** Protocol label (method number). */
  LABEL = 4,
  /** Call tag; 0 for a one-way send. */
  TAG = 8,
  /** Status (an Err code) of a reply; 0 for requests. */
  STATUS = 12,
}

/**
 * Word offsets in a console ring's header page (the rest is text bytes).
 * Offsets of text are 64-bit (two words, read and written as one
 * BigInt64 with Atomics; kernel/abi/console.ts), so they never wrap.
 */
export enum ConsoleWord {
  /** Words 0-1: byte offset of the end of the text ever written (producer-owned). */
  HEAD = 0,
  /** Words 2-3: byte offset of the first byte ever written (0, or a test's chosen start). */
  START = 2,
}

/**
 * Word offsets in a console's device register: a small volatile buffer the
 * board owns (device state, not guest state, so not in the persistent ring).
 */
export enum ConsoleRegister {
  /** Words 0-1 (64-bit): byte offset released to the outside; the writer may not overwrite past it. */
  RELEASED = 0,
  COUNT = 16,
}

assert(
  1 << DIRTY_CHUNK_SHIFT === DIRTY_CHUNK_PAGES,
  "layout",
  "dirty chunk shift must match its pages",
);
assert(CONN_BYTES % PAGE_BYTES === 0, "layout", "connection buffer must be whole pages");
assert(ConnWord.NEXT_TAG * 4 < PAGE_BYTES, "layout", "connection header must fit a page");
