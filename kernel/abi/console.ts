/**
 * The console: a per-thread ring of text in a PMO. The board releases its
 * bytes to the outside only once the checkpoint covering them has committed
 * (delayed external visibility), so printed text never shows state that a
 * crash could roll back.
 *
 * Map of this file:
 * - Offsets: HEAD and START in the ring's header, RELEASED in the board's
 *   device register, all 64-bit byte offsets (one BigInt64 each, loaded and
 *   stored with Atomics: one writer, one reader), so a program may print
 *   more than 4 GiB in its life without an offset wrapping.
 * - {@link ConsoleWriter}: the program's side, appends text.
 * - {@link readConsoleText}, {@link resendFrom}: the board's and the kernel's side.
 *
 * Both sides of the one ring format live here, in kernel/abi/, because the
 * program runtime (servers/runtime/program.ts), the kernel and the board all
 * use it (as kernel/abi/doorbell.ts holds both sides of a doorbell).
 *
 * @module
 */

import { ConsoleRegister, ConsoleWord, type PmoBuffers } from "./layout.ts";
import { CONSOLE_RING_BYTES, PAGE_BYTES } from "./limits.ts";
import { PersistentMemory } from "./pmem.ts";

/** Byte offset of the text area in a console ring PMO. */
export const CONSOLE_TEXT_OFFSET = PAGE_BYTES;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The 64-bit word at Int32 word index `word` (even) of `buf`, as a number (Atomics: one writer, one reader). */
export function load64(buf: SharedArrayBuffer, word: number): number {
  return Number(Atomics.load(new BigInt64Array(buf, word * 4, 1), 0));
}

/** Stores `value` in the 64-bit word at Int32 word index `word` (even) of `buf`. */
export function store64(buf: SharedArrayBuffer, word: number, value: number): void {
  Atomics.store(new BigInt64Array(buf, word * 4, 1), 0, BigInt(value));
}

/** The ring's HEAD: byte offset of the end of everything written. */
export function consoleHead(ring: PmoBuffers): number {
  return load64(ring.data, ConsoleWord.HEAD);
}

/** The ring's START: byte offset of the first byte ever written. */
export function consoleStart(ring: PmoBuffers): number {
  return load64(ring.data, ConsoleWord.START);
}

/** The register's RELEASED: byte offset up to which the board has released the text. */
export function consoleReleased(register: SharedArrayBuffer): number {
  return load64(register, ConsoleRegister.RELEASED);
}

/** Sets RELEASED (the board, or the kernel for a register no one holds yet). */
export function setConsoleReleased(register: SharedArrayBuffer, offset: number): void {
  store64(register, ConsoleRegister.RELEASED, offset);
}

/** A new device register whose RELEASED is `released`. */
export function newConsoleRegister(released: number): SharedArrayBuffer {
  const register = new SharedArrayBuffer(ConsoleRegister.COUNT * 4);
  setConsoleReleased(register, released);
  return register;
}

/**
 * Makes an empty ring start at byte offset `start` (HEAD = START = start),
 * through the write barrier so the checkpoint keeps it. A test hook
 * (`--console-start`): offsets past 2^31 and 2^32 without printing 4 GiB.
 */
export function setConsoleStart(ring: PmoBuffers, start: number): void {
  new PersistentMemory(ring).markDirty(0, 16);
  store64(ring.data, ConsoleWord.START, start);
  store64(ring.data, ConsoleWord.HEAD, start);
}

/**
 * The oldest offset of the ring that may not have been released: after a
 * crash, what was released is unknown, but never less than HEAD minus the
 * ring (the writer never overwrites unreleased text), so everything from
 * here on is sent again.
 */
export function resendFrom(ring: PmoBuffers): number {
  return Math.max(consoleStart(ring), consoleHead(ring) - CONSOLE_RING_BYTES);
}

/** Writes text into a console ring. */
export class ConsoleWriter {
  private readonly mem: PersistentMemory;
  /** Bytes dropped because the ring was full of unreleased text. */
  dropped = 0;

  constructor(private readonly ring: PmoBuffers, private readonly register: SharedArrayBuffer) {
    this.mem = new PersistentMemory(ring);
  }

  /** Bytes a write may take now: the ring less the text not yet released. */
  room(): number {
    return CONSOLE_RING_BYTES - (consoleHead(this.ring) - consoleReleased(this.register));
  }

  /** Appends `text`; returns false (and counts it dropped) if unreleased text fills the ring. */
  write(text: string): boolean {
    const bytes = encoder.encode(text);
    if (bytes.length > this.room()) {
      this.dropped += bytes.length;
      return false;
    }
    appendToRing(this.mem, this.ring, bytes);
    return true;
  }
}

/**
 * Appends `bytes` at the ring's HEAD (wrapping) and advances HEAD, through
 * the write barrier. The caller has checked that the bytes overwrite only
 * released ones (the console's writer and the NIC's, kernel/abi/nic.ts).
 */
export function appendToRing(mem: PersistentMemory, ring: PmoBuffers, bytes: Uint8Array): void {
  const head = consoleHead(ring);
  for (let i = 0; i < bytes.length;) {
    const at = (head + i) % CONSOLE_RING_BYTES;
    const n = Math.min(bytes.length - i, CONSOLE_RING_BYTES - at);
    mem.write(CONSOLE_TEXT_OFFSET + at, bytes.subarray(i, i + n));
    i += n;
  }
  mem.markDirty(ConsoleWord.HEAD * 4, 8);
  store64(ring.data, ConsoleWord.HEAD, head + bytes.length);
}

/** Sets the ring's START (through the write barrier): the NIC's writer moves it past frames it overwrites. */
export function setRingStart(mem: PersistentMemory, ring: PmoBuffers, start: number): void {
  mem.markDirty(ConsoleWord.START * 4, 8);
  store64(ring.data, ConsoleWord.START, start);
}

/** Reads bytes [from, to) of a console ring (the board's side). */
export function readConsole(ring: PmoBuffers, from: number, to: number): Uint8Array {
  const bytes = new Uint8Array(ring.data);
  const out = new Uint8Array(to - from);
  for (let i = 0; i < out.length; i++) {
    out[i] = bytes[CONSOLE_TEXT_OFFSET + ((from + i) % CONSOLE_RING_BYTES)];
  }
  return out;
}

/** Number of UTF-8 continuation bytes (10xxxxxx) `bytes` starts with, at most 3. */
export function leadingContinuationBytes(bytes: Uint8Array): number {
  let n = 0;
  while (n < 3 && n < bytes.length && (bytes[n] & 0xc0) === 0x80) n++;
  return n;
}

/**
 * Text [from, to) of a ring as a string starting at a character: a re-send
 * may start inside a multi-byte character (HEAD minus the ring is any byte),
 * whose first bytes were released long ago; those few bytes are left out and
 * `off` is the offset of the first whole character.
 */
export function readConsoleText(
  ring: PmoBuffers,
  from: number,
  to: number,
): { off: number; text: string } {
  const bytes = readConsole(ring, from, to);
  const skip = leadingContinuationBytes(bytes);
  return { off: from + skip, text: decoder.decode(bytes.subarray(skip)) };
}
