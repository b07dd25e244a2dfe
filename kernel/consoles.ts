/**
 * Console hand-over: each thread's console ring goes to the board with a
 * device register the board advances as it releases text. The register is
 * kept across restarts of the thread's worker (what the board released
 * stays released), so it lives here, per thread id, not with the worker.
 *
 * @module
 */

import type { PmoBuffers } from "./abi/layout.ts";
import type { KernelToBoard } from "./abi/protocol.ts";
import { consoleHead, newConsoleRegister, resendFrom, setConsoleStart } from "./abi/console.ts";
import type { ThreadRecord } from "./objects/records.ts";

/** Every thread's console device register, by thread id. */
export class ConsoleRegisters {
  private readonly registers = new Map<number, SharedArrayBuffer>();

  /**
   * @param consoleStart the offset a fresh boot's consoles start at (0: the ring's start)
   * @param post sends the hand-over to the board
   */
  constructor(
    private readonly consoleStart: number,
    private readonly post: (msg: KernelToBoard) => void,
  ) {}

  /** True once thread `threadId`'s console has been handed to the board. */
  has(threadId: number): boolean {
    return this.registers.has(threadId);
  }

  /**
   * Hands a thread's console to the board, with a device register that a
   * restart keeps (what the board released stays released). A fresh thread's
   * register starts at HEAD; a resumed one's at the oldest offset that may
   * not have been released before the crash, and the board sends the text
   * from there to HEAD (all committed) at once, before the program runs.
   * Returns the register.
   */
  attach(rec: ThreadRecord, ring: PmoBuffers, resumed: boolean, name: string): SharedArrayBuffer {
    let register = this.registers.get(rec.id);
    let committedHead: number | undefined;
    if (!register) {
      if (!resumed && this.consoleStart > 0) setConsoleStart(ring, this.consoleStart);
      register = newConsoleRegister(resumed ? resendFrom(ring) : consoleHead(ring));
      if (resumed) committedHead = consoleHead(ring);
      this.registers.set(rec.id, register);
    }
    this.post({ t: "console", threadId: rec.id, ring, register, name, committedHead });
    return register;
  }
}
