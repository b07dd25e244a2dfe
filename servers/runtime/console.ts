/**
 * The console: a per-thread ring of text in a PMO. The board releases its
 * bytes to the outside only once the checkpoint covering them has committed
 * (delayed external visibility), so printed text never shows state that a
 * crash could roll back.
 *
 * @module
 */

import { ConsoleRegister, ConsoleWord, type PmoBuffers } from "../../kernel/abi/layout.ts";
import { CONSOLE_RING_BYTES, PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { PersistentMemory } from "./pmem.ts";

/** Byte offset of the text area in a console ring PMO. */
export const CONSOLE_TEXT_OFFSET = PAGE_BYTES;

const encoder = new TextEncoder();

/** Writes text into a console ring. */
export class ConsoleWriter {
  private readonly mem: PersistentMemory;
  /** Bytes dropped because the ring was full of unreleased text. */
  dropped = 0;

  private readonly register: Int32Array;

  constructor(ring: PmoBuffers, register: SharedArrayBuffer) {
    this.mem = new PersistentMemory(ring);
    this.register = new Int32Array(register);
  }

  /** Appends `text`; returns false (and counts it dropped) if unreleased text fills the ring. */
  write(text: string): boolean {
    const bytes = encoder.encode(text);
    const words = this.mem.words;
    const head = Atomics.load(words, ConsoleWord.HEAD);
    const released = Atomics.load(this.register, ConsoleRegister.RELEASED);
    if (head - released + bytes.length > CONSOLE_RING_BYTES) {
      this.dropped += bytes.length;
      return false;
    }
    for (let i = 0; i < bytes.length;) {
      const at = (head + i) % CONSOLE_RING_BYTES;
      const n = Math.min(bytes.length - i, CONSOLE_RING_BYTES - at);
      this.mem.write(CONSOLE_TEXT_OFFSET + at, bytes.subarray(i, i + n));
      i += n;
    }
    this.mem.atomicStore(ConsoleWord.HEAD, head + bytes.length);
    return true;
  }
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
