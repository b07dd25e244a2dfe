/**
 * The NIC's transmit ring: link frames (kernel/abi/net_link.ts) in a PMO in
 * the console ring's format (kernel/abi/console.ts: HEAD and START in the
 * PMO, RELEASED the board's device register). The network driver writes
 * whole frames; the board sends the bytes up to the HEAD a committed
 * checkpoint recorded to the switch as they are, since they are frames
 * already (delayed external visibility, as for the console).
 *
 * START is the offset of the oldest whole frame still in the ring: the
 * writer moves it past each frame it overwrites (all released), so the
 * console's `resendFrom` (max(START, HEAD − ring)) is START, a frame
 * boundary, and a re-send after a resume starts at a frame.
 *
 * @module
 */

import {
  appendToRing,
  consoleHead,
  consoleReleased,
  consoleStart,
  readConsole,
  setRingStart,
} from "./console.ts";
import type { PmoBuffers } from "./layout.ts";
import { CONSOLE_RING_BYTES } from "./limits.ts";
import { FRAME_HEADER_BYTES } from "./net_link.ts";
import { PersistentMemory } from "./pmem.ts";

/** Bytes of the transmit ring (the console ring's size). */
export const NIC_TX_RING_BYTES = CONSOLE_RING_BYTES;

/** Length of the frame that starts at byte offset `at` of the ring (header and data). */
function frameLengthAt(ring: PmoBuffers, at: number): number {
  const header = readConsole(ring, at, at + 4);
  return FRAME_HEADER_BYTES + new DataView(header.buffer).getUint32(0, true);
}

/** Writes link frames into a NIC transmit ring (the network driver's side). */
export class NicTxWriter {
  private readonly mem: PersistentMemory;

  /**
   * @param ring the transmit ring PMO's buffers (mapped writable)
   * @param register the board's device register (RELEASED), from `pmo_map`
   */
  constructor(private readonly ring: PmoBuffers, private readonly register: SharedArrayBuffer) {
    this.mem = new PersistentMemory(ring);
  }

  /** Bytes a frame may take now: the ring minus what is written and not yet released. */
  room(): number {
    return NIC_TX_RING_BYTES - (consoleHead(this.ring) - consoleReleased(this.register));
  }

  /**
   * Appends one whole frame; returns false (writing nothing) when unreleased
   * frames leave no room for it: the caller tries again after the next commit.
   */
  write(frame: Uint8Array): boolean {
    if (frame.length > this.room()) return false;
    const end = consoleHead(this.ring) + frame.length;
    let start = consoleStart(this.ring);
    while (end - start > NIC_TX_RING_BYTES) start += frameLengthAt(this.ring, start);
    if (start !== consoleStart(this.ring)) setRingStart(this.mem, this.ring, start);
    appendToRing(this.mem, this.ring, frame);
    return true;
  }
}
