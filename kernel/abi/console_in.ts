/**
 * The console input device: keyboard lines from the boot terminal, in one
 * PMO (role "console-in") that the kernel makes at a fresh boot, init holds
 * in INIT_CONSOLE_IN_SLOT and grants (with the device's IRQ, line
 * "console-in") to the one app whose config asks for the console (the
 * shell).
 *
 * Map of the PMO ({@link CONSOLE_IN_PAGES} pages, all in the image):
 * - Page 0, the header: Int32 word {@link ConsoleInWord.HEAD}, the bytes the
 *   kernel has ever written into the ring, and {@link ConsoleInWord.TAIL},
 *   the bytes the program has consumed, both unsigned 32-bit counters that
 *   wrap (their difference is what waits); {@link ConsoleInWord.LINES}, the
 *   number of the next line the device expects from the supervisor.
 * - Pages 1…, the ring ({@link CONSOLE_INPUT_RING_BYTES}): each line as its
 *   UTF-8 bytes and a newline.
 *
 * Both counters are in the PMO and written through the write barrier, so a
 * checkpoint holds the ring, what the kernel had put in it and how far the
 * program had consumed it, all at one cut: the kernel writes a line in one
 * synchronous turn (never inside a cut), and the program moves TAIL in the
 * same step that applies the lines. After a crash the resumed program finds
 * exactly the lines its committed state had not consumed.
 *
 * A line the kernel wrote after the last committed cut is gone with the
 * crash (and every effect and answer it could have had: output is released
 * only after the commit of a cut that holds it), so the sender keeps each
 * line until a commit covers it: lines come numbered (`seq`), LINES is what
 * a cut holds, the board reports it at each commit that moved it and when
 * the device is attached ({"t":"console-input","lines":N}), and after a
 * crash the sender sends again the lines from N on
 * (tools/console_feed.ts). A line numbered below LINES is one the device
 * already has: dropped, so a line is never taken twice.
 *
 * @module
 */

import { Err, TardigradeError } from "./errors.ts";
import type { PmoBuffers } from "./layout.ts";
import { CONSOLE_INPUT_LINE_BYTES_MAX, CONSOLE_INPUT_RING_BYTES, PAGE_BYTES } from "./limits.ts";
import { PersistentMemory } from "./pmem.ts";

/** Byte offset of the ring in the PMO. */
export const CONSOLE_IN_RING_OFFSET = PAGE_BYTES;
/** Pages of the PMO: the header page, then the ring. */
export const CONSOLE_IN_PAGES = 1 + CONSOLE_INPUT_RING_BYTES / PAGE_BYTES;

/** Int32 word indexes of the header. */
export enum ConsoleInWord {
  /** Bytes the kernel wrote (mod 2^32). */
  HEAD = 0,
  /** Bytes the program consumed (mod 2^32). */
  TAIL = 1,
  /** Number of the next line expected: one past the highest `seq` taken (mod 2^32). */
  LINES = 2,
}

/** LINES of a console input PMO: lines numbered below it are in (or through) the ring. */
export function consoleInLines(pmo: PmoBuffers): number {
  return Atomics.load(new Int32Array(pmo.data, 0, 4), ConsoleInWord.LINES) >>> 0;
}

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/**
 * A typed line as the ring holds it (UTF-8 and a newline). A CR or LF at
 * its end is dropped; one inside it, or more than
 * {@link CONSOLE_INPUT_LINE_BYTES_MAX} bytes, is refused (a TardigradeError
 * naming what to do).
 */
export function encodeConsoleLine(text: string): Uint8Array {
  const line = text.replace(/\r?\n$/, "").replace(/\r$/, "");
  if (/[\r\n]/.test(line)) {
    throw new TardigradeError(Err.E_BAD_ARGUMENT, "console input: send one line at a time");
  }
  const bytes = encoder.encode(line + "\n");
  if (bytes.length - 1 > CONSOLE_INPUT_LINE_BYTES_MAX) {
    throw new TardigradeError(
      Err.E_LIMIT,
      `console input: a line of ${bytes.length - 1} bytes; at most ` +
        `${CONSOLE_INPUT_LINE_BYTES_MAX} bytes a line`,
    );
  }
  return bytes;
}

/** Bytes waiting in the ring: HEAD − TAIL. */
function waiting(mem: PersistentMemory): number {
  const head = Atomics.load(mem.words, ConsoleInWord.HEAD) >>> 0;
  const tail = Atomics.load(mem.words, ConsoleInWord.TAIL) >>> 0;
  return (head - tail) >>> 0;
}

/** The kernel's side: appends lines. */
export class ConsoleInWriter {
  private readonly mem: PersistentMemory;

  constructor(pmo: PmoBuffers) {
    this.mem = new PersistentMemory(pmo);
  }

  /**
   * Appends one line ({@link encodeConsoleLine}) numbered `seq` (none: the
   * next number): "taken", "duplicate" (numbered below LINES: the device has
   * it already, nothing written) or "full" (the ring lacks room, nothing
   * written).
   */
  write(line: Uint8Array, seq?: number): "taken" | "duplicate" | "full" {
    const lines = Atomics.load(this.mem.words, ConsoleInWord.LINES) >>> 0;
    if (seq !== undefined && seq < lines) return "duplicate";
    if (waiting(this.mem) + line.length > CONSOLE_INPUT_RING_BYTES) return "full";
    const head = Atomics.load(this.mem.words, ConsoleInWord.HEAD) >>> 0;
    for (let i = 0; i < line.length;) {
      const at = (head + i) % CONSOLE_INPUT_RING_BYTES;
      const n = Math.min(line.length - i, CONSOLE_INPUT_RING_BYTES - at);
      this.mem.write(CONSOLE_IN_RING_OFFSET + at, line.subarray(i, i + n));
      i += n;
    }
    this.mem.atomicStore(ConsoleInWord.HEAD, (head + line.length) | 0);
    this.mem.atomicStore(ConsoleInWord.LINES, ((seq ?? lines) + 1) | 0);
    return "taken";
  }
}

/** The program's side: reads what waits and moves TAIL past what it applied. */
export class ConsoleInReader {
  /** @param mem the PMO mapped writable (TAIL is written through the barrier) */
  constructor(private readonly mem: PersistentMemory) {}

  /** The whole lines waiting, oldest first (bytes, each line ending in a newline). */
  pending(): Uint8Array {
    const n = waiting(this.mem);
    const tail = Atomics.load(this.mem.words, ConsoleInWord.TAIL) >>> 0;
    const out = new Uint8Array(n);
    const at = tail % CONSOLE_INPUT_RING_BYTES;
    const first = Math.min(n, CONSOLE_INPUT_RING_BYTES - at);
    const ring = this.mem.bytes.subarray(CONSOLE_IN_RING_OFFSET);
    out.set(ring.subarray(at, at + first));
    if (first < n) out.set(ring.subarray(0, n - first), first);
    const last = out.lastIndexOf(NEWLINE);
    return out.subarray(0, last + 1);
  }

  /**
   * Frees `bytes` of the front (whole lines the program has applied, in the
   * step it applied them); more than waits is a bug of the caller (two
   * readers at once): E_BAD_ARGUMENT, nothing freed.
   */
  consume(bytes: number): void {
    if (bytes === 0) return;
    if (bytes > waiting(this.mem)) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `console input: consuming ${bytes} bytes of ${waiting(this.mem)} waiting; ` +
          "one step at a time may read the device",
      );
    }
    const tail = Atomics.load(this.mem.words, ConsoleInWord.TAIL) >>> 0;
    this.mem.atomicStore(ConsoleInWord.TAIL, (tail + bytes) | 0);
  }
}
