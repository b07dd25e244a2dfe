/**
 * The NIC: the board's end of the link to the switch (hw/switch.ts,
 * protocol in kernel/abi/net_link.ts).
 *
 * It connects to the switch's Unix socket when the machine starts
 * (`--net-link PATH`), says HELLO and an empty SYNC list, and connects again
 * whenever the switch goes away and comes back.
 *
 * Transmit: the network driver writes link frames into the transmit ring
 * (kernel/abi/nic.ts); the board calls {@link Nic.release} with the HEAD a
 * committed checkpoint recorded (with checkpoints off, the HEAD now), and
 * the NIC sends the frames up to it, as they are, and advances RELEASED
 * once they are written to the link. While the link is down or not yet in
 * sync nothing is sent and RELEASED stays, so the driver's writer cannot
 * overwrite unsent frames. At each SYNC_DONE the NIC sends again from the
 * ring's oldest frame (START): after a resume RELEASED is not known, and the
 * switch drops outbound bytes its clients already have. With no link the
 * frames are dropped as they are released (a NIC with no cable).
 *
 * The receive ring and the NIC IRQ come next (docs/ARCHITECTURE.md "Network").
 *
 * @module
 */

import { encodeFrame, FrameReader, FrameType, type LinkFrame } from "../kernel/abi/net_link.ts";
import {
  consoleReleased,
  readConsole,
  resendFrom,
  setConsoleReleased,
} from "../kernel/abi/console.ts";
import type { PmoBuffers } from "../kernel/abi/layout.ts";

/** How long the NIC waits before it tries a switch that was not there again. */
const RECONNECT_MS = 100;

/** The board's network device. */
export class Nic {
  private link: Deno.Conn | undefined;
  private stopped = false;
  /** The link is up and the switch has re-sent what the machine lacked: frames may go. */
  private synced = false;
  private sending = false;
  /** The transmit ring and its register, once the kernel has handed them over. */
  private tx: { ring: PmoBuffers; register: SharedArrayBuffer } | undefined;
  /** The newest HEAD of the transmit ring that a committed checkpoint covers. */
  private txCommitted = 0;
  /** Send from the ring's oldest frame at the next chance (after a sync). */
  private resend = false;

  /**
   * @param path the switch's link socket; none: frames are dropped as they are released
   * @param log a diagnostic line (the board's `log`)
   */
  constructor(
    private readonly path: string | undefined,
    private readonly log: (text: string) => void,
  ) {}

  /** The kernel handed over the transmit ring; after a resume, `committedHead` is its committed HEAD. */
  attachTx(ring: PmoBuffers, register: SharedArrayBuffer, committedHead: number | undefined): void {
    this.tx = { ring, register };
    this.txCommitted = committedHead ?? consoleReleased(register);
    this.resend = true;
    this.pump();
  }

  /** The ring goes with the state that made it (a system rollback); the kernel hands it over again. */
  detachTx(): void {
    this.tx = undefined;
  }

  /** Frames up to `head` are committed: they go to the switch. */
  release(head: number | undefined): void {
    if (head === undefined || head <= this.txCommitted) return;
    this.txCommitted = head;
    this.pump();
  }

  /** Sends committed frames not yet sent, while the link is in sync. */
  private async pump(): Promise<void> {
    const tx = this.tx;
    if (!tx || this.sending) return;
    if (!this.path) return setConsoleReleased(tx.register, this.txCommitted);
    const link = this.link;
    if (!link || !this.synced) return;
    this.sending = true;
    try {
      while (this.tx === tx && this.link === link && this.synced) {
        const to = this.txCommitted;
        const bytes = this.resend ? this.oldestFrames(tx, to) : this.unsent(tx, to);
        this.resend = false;
        if (bytes.length === 0) break;
        for (let at = 0; at < bytes.length;) at += await link.write(bytes.subarray(at));
        if (this.tx === tx) setConsoleReleased(tx.register, to);
      }
    } catch (e) {
      this.resend = true;
      if (!this.stopped) this.log(`nic: transmit failed: ${(e as Error).message}`);
    }
    this.sending = false;
  }

  /** The committed frames not yet sent: [RELEASED, `to`); the writer never overwrites them. */
  private unsent(tx: { ring: PmoBuffers; register: SharedArrayBuffer }, to: number): Uint8Array {
    const from = consoleReleased(tx.register);
    return to > from ? readConsole(tx.ring, from, to) : new Uint8Array(0);
  }

  /**
   * Every committed frame the ring still holds: [START, `to`). The driver
   * may be writing meanwhile, over frames below RELEASED, so RELEASED is
   * first lowered to START (no new write overwrites the rest), and after the
   * copy START is read again: a write that had already checked its room
   * moved START past what it overwrites, so the copy starts there (a frame
   * boundary; everything above it is intact).
   */
  private oldestFrames(tx: { ring: PmoBuffers; register: SharedArrayBuffer }, to: number) {
    const from = resendFrom(tx.ring);
    if (from < consoleReleased(tx.register)) setConsoleReleased(tx.register, from);
    if (to <= from) return new Uint8Array(0);
    const bytes = readConsole(tx.ring, from, to);
    const start = Math.min(resendFrom(tx.ring), to);
    return bytes.subarray(Math.max(0, start - from));
  }

  /** Connects to the switch and keeps connecting while the machine runs. */
  async start(): Promise<void> {
    if (!this.path) return;
    let told = false;
    while (!this.stopped) {
      try {
        this.link = await Deno.connect({ transport: "unix", path: this.path });
      } catch (e) {
        if (!told) this.log(`nic: no switch at ${this.path} (${(e as Error).message}); retrying`);
        told = true;
        await new Promise((r) => setTimeout(r, RECONNECT_MS));
        continue;
      }
      told = false;
      this.log(`nic: link up (${this.path})`);
      await this.serve(this.link);
      this.synced = false;
      this.resend = true;
      if (!this.stopped) this.log("nic: link down; connecting again");
    }
  }

  /** Says HELLO with what the committed state holds (nothing yet), then reads frames until the link ends. */
  private async serve(link: Deno.Conn): Promise<void> {
    const reader = new FrameReader();
    const buf = new Uint8Array(64 * 1024);
    try {
      await link.write(encodeFrame(FrameType.HELLO, 0));
      await link.write(encodeFrame(FrameType.SYNC_END, 0));
      for (;;) {
        const n = await link.read(buf);
        if (n === null) break;
        for (const f of reader.push(buf.subarray(0, n))) this.onFrame(f);
      }
    } catch (e) {
      if (!this.stopped) this.log(`nic: link error: ${(e as Error).message}`);
    }
    try {
      link.close();
    } catch { /* closed */ }
  }

  private onFrame(f: LinkFrame): void {
    if (f.type !== FrameType.SYNC_DONE) return;
    this.log("nic: in sync with the switch");
    this.synced = true;
    this.resend = true;
    this.pump();
  }

  /** Closes the link (the machine is halting). */
  stop(): void {
    this.stopped = true;
    try {
      this.link?.close();
    } catch { /* closed */ }
  }
}
