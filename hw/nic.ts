/**
 * The NIC: the board's end of the link to the switch (hw/switch.ts,
 * protocol in kernel/abi/net_link.ts).
 *
 * It connects to the switch's Unix socket when the machine starts
 * (`--net-link PATH`) and again whenever the switch goes away and comes
 * back. Once the kernel has handed it the receive PMO (and with it the
 * committed connection table) it says HELLO, a LISTEN per port and a SYNC per
 * connection of that table, and SYNC_END.
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
 * Receive: OPEN, DATA, FIN, GONE and ACK frames from the switch go into the
 * receive ring (kernel/abi/nic_rx.ts) in order, and the NIC raises its IRQ
 * after each batch (a batch of ACKs alone waits for the next tick: interrupt
 * coalescing). While the ring is full the NIC stops reading the link
 * (the switch's windows bound what waits in the socket) and looks again
 * every millisecond.
 *
 * The connection table of each committed checkpoint ({@link Nic.commitTable})
 * becomes LISTEN frames for new ports and ACK frames for consumed bytes: the
 * switch forgets inbound bytes only once a committed state has consumed
 * them.
 *
 * @module
 */

import {
  concatBytes,
  encodeFrame,
  FrameReader,
  FrameType,
  type LinkFrame,
  writeAll,
} from "../kernel/abi/net_link.ts";
import { decodeNicTable, type NicEntry, NicEntryKind, NicRxWriter } from "../kernel/abi/nic_rx.ts";
import {
  consoleHead,
  consoleReleased,
  readConsole,
  resendFrom,
  setConsoleReleased,
} from "../kernel/abi/console.ts";
import type { PmoBuffers } from "../kernel/abi/layout.ts";
import { type NetOutput, NicOutputCount } from "./nic_output.ts";

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
  /** The receive ring's writer, once the kernel has handed the receive PMO over. */
  private rx: NicRxWriter | undefined;
  /** Resolves the link waiting for the receive PMO before it says HELLO. */
  private rxAttached: (() => void) | undefined;
  /** The connection table of the newest committed checkpoint. */
  private committedTable: NicEntry[] = [];
  /** HELLO went out on the current link: LISTEN and ACK frames may follow. */
  private helloSent = false;
  /** Ports and consumed offsets the switch was told on the current link. */
  private listenSent = new Set<number>();
  private ackSent = new Map<number, number>();
  /** Frames from the switch waiting for room in the receive ring. */
  private rxQueue: LinkFrame[] = [];
  /** Held and released output per connection, once {@link Nic.countOutput} asked for it. */
  private output: NicOutputCount | undefined;

  /**
   * @param path the switch's link socket; none: frames are dropped as they are released
   * @param log a diagnostic line (the board's `log`)
   * @param raiseIrq raises the NIC's IRQ line (frames are in the receive ring)
   */
  constructor(
    private readonly path: string | undefined,
    private readonly log: (text: string) => void,
    private readonly raiseIrq: () => void = () => {},
  ) {}

  /**
   * The kernel handed over the receive PMO with an empty ring; after a
   * resume `committedTable` is the table the committed checkpoint holds. A
   * link already up says HELLO again (after a system rollback the switch
   * must re-send from the restored state).
   */
  attachRx(ring: PmoBuffers, register: SharedArrayBuffer, committedTable?: Uint8Array): void {
    this.rx = new NicRxWriter(ring, register);
    this.rxQueue = [];
    this.committedTable = committedTable ? decodeNicTable(committedTable) : [];
    if (this.helloSent) this.dropLink();
    this.rxAttached?.();
    this.rxAttached = undefined;
  }

  /**
   * The connection table of a checkpoint that committed (with checkpoints
   * off, the table now): LISTEN for ports the switch was not told, ACK for
   * consumed bytes it was not told.
   */
  commitTable(bytes: Uint8Array | undefined): void {
    if (!bytes) return;
    this.committedTable = decodeNicTable(bytes);
    if (this.helloSent) this.sendTableNews();
  }

  private sendTableNews(): void {
    const frames: Uint8Array[] = [];
    for (const e of this.committedTable) {
      if (e.kind === NicEntryKind.LISTEN && !this.listenSent.has(e.port)) {
        this.listenSent.add(e.port);
        frames.push(encodeFrame(FrameType.LISTEN, 0, 0, undefined, e.port));
      } else if (e.kind === NicEntryKind.CONN && e.consumed > (this.ackSent.get(e.conn) ?? 0)) {
        this.ackSent.set(e.conn, e.consumed);
        frames.push(encodeFrame(FrameType.ACK, e.conn, e.consumed));
      }
    }
    if (frames.length > 0) this.writeControl(frames);
  }

  /** Writes control frames to the link (they do not wait for the transmit ring). */
  private writeControl(frames: Uint8Array[]): void {
    const link = this.link;
    if (!link) return;
    const out = concatBytes(frames);
    this.controlWrites = this.controlWrites.then(async () => {
      try {
        await writeAll(link, out);
      } catch { /* the link went down: the next HELLO says it all again */ }
    });
  }

  /** Control frames are written in order, one batch after another. */
  private controlWrites: Promise<void> = Promise.resolve();

  /** The kernel handed over the transmit ring; after a resume, `committedHead` is its committed HEAD. */
  attachTx(ring: PmoBuffers, register: SharedArrayBuffer, committedHead: number | undefined): void {
    this.tx = { ring, register };
    this.txCommitted = committedHead ?? consoleReleased(register);
    this.resend = true;
    this.pump();
  }

  /** The rings go with the state that made them (a system rollback); the kernel hands them over again. */
  detach(): void {
    this.tx = undefined;
    this.rx = undefined;
    this.rxQueue = [];
  }

  /** Closes the current link: the NIC connects again and says HELLO from the committed state. */
  private dropLink(): void {
    try {
      this.link?.close();
    } catch { /* closed */ }
  }

  /** Counts output per connection from now on (--report-ms: the `{t:"net"}` line). */
  countOutput(): void {
    this.output ??= new NicOutputCount();
  }

  /**
   * Per connection, the output released to the switch and still held in
   * the transmit ring; undefined unless counting and the ring is attached.
   */
  outputReport(): NetOutput[] | undefined {
    if (!this.output || !this.tx) return undefined;
    const { ring, register } = this.tx;
    const from = consoleReleased(register);
    const head = consoleHead(ring);
    const held = head > from ? readConsole(ring, from, head) : new Uint8Array(0);
    return this.output.report(held, this.committedTable);
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
        await writeAll(link, bytes);
        this.output?.sent(bytes);
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

  /**
   * Once the receive PMO is attached, says HELLO with what the committed
   * table holds, then reads frames until the link ends.
   */
  private async serve(link: Deno.Conn): Promise<void> {
    const reader = new FrameReader();
    const buf = new Uint8Array(64 * 1024);
    try {
      if (!this.rx) await new Promise<void>((r) => this.rxAttached = r);
      await this.hello();
      for (;;) {
        const n = await link.read(buf);
        if (n === null) break;
        for (const f of reader.push(buf.subarray(0, n))) this.onFrame(f);
        if (this.rxQueue.length > 0) await this.drainRx();
      }
    } catch (e) {
      if (!this.stopped) this.log(`nic: link error: ${(e as Error).message}`);
    }
    this.helloSent = false;
    this.rxQueue = [];
    try {
      link.close();
    } catch { /* closed */ }
  }

  /** HELLO, a LISTEN per port and a SYNC per connection of the committed table, SYNC_END. */
  private async hello(): Promise<void> {
    this.listenSent = new Set();
    this.ackSent = new Map();
    const frames = [encodeFrame(FrameType.HELLO, 0)];
    for (const e of this.committedTable) {
      if (e.kind === NicEntryKind.LISTEN) {
        this.listenSent.add(e.port);
        frames.push(encodeFrame(FrameType.LISTEN, 0, 0, undefined, e.port));
      } else {
        this.ackSent.set(e.conn, e.consumed);
        frames.push(encodeFrame(FrameType.SYNC, e.conn, e.consumed, undefined, e.port));
      }
    }
    frames.push(encodeFrame(FrameType.SYNC_END, 0));
    this.helloSent = true;
    this.writeControl(frames);
    await this.controlWrites;
  }

  private onFrame(f: LinkFrame): void {
    if (f.type !== FrameType.SYNC_DONE) {
      this.rxQueue.push(f);
      return;
    }
    this.log("nic: in sync with the switch");
    this.synced = true;
    this.resend = true;
    this.pump();
  }

  /** Writes queued frames into the receive ring, raising the IRQ; waits while the ring is full. */
  private async drainRx(): Promise<void> {
    for (;;) {
      const rx = this.rx;
      let wrote = 0;
      let urgent = false;
      while (rx && this.rxQueue.length > 0) {
        const f = this.rxQueue[0];
        if (!rx.write(encodeFrame(f.type, f.conn, f.off, f.data, f.port))) break;
        this.rxQueue.shift();
        wrote++;
        if (f.type !== FrameType.ACK) urgent = true;
      }
      if (urgent) this.raiseIrqNow();
      else if (wrote > 0) this.irqDeferred = true;
      if (this.rxQueue.length === 0 || this.stopped) return;
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * Interrupt coalescing: a batch of ACKs alone (the switch's delivered
   * offsets, one per reply written to a client) does not raise the IRQ at
   * once; it waits for the next batch with other frames or for
   * {@link Nic.tick}. An ACK only opens a transmit window, which matters
   * to a sender that filled it, and each IRQ is a chain of wake-ups (board,
   * kernel, driver) that a request's own path would wait behind.
   */
  private irqDeferred = false;

  private raiseIrqNow(): void {
    this.irqDeferred = false;
    this.raiseIrq();
  }

  /** The board's release tick (about every millisecond): raises a deferred IRQ. */
  tick(): void {
    if (this.irqDeferred) this.raiseIrqNow();
  }

  /** Closes the link (the machine is halting). */
  stop(): void {
    this.stopped = true;
    try {
      this.link?.close();
    } catch { /* closed */ }
  }
}
