/**
 * The NIC: the board's end of the link to the switch (hw/switch.ts,
 * protocol in hw/net_link.ts).
 *
 * At this stage it connects to the switch's Unix socket when the machine
 * starts (`--net-link PATH`), says HELLO and an empty SYNC list (no program
 * listens yet), and connects again whenever the switch goes away and comes
 * back. The receive and transmit rings in PMOs, the NIC IRQ and the release
 * of transmitted bytes at commit come next (docs/ARCHITECTURE.md "Network").
 *
 * @module
 */

import { encodeFrame, FrameReader, FrameType, type LinkFrame } from "./net_link.ts";

/** How long the NIC waits before it tries a switch that was not there again. */
const RECONNECT_MS = 100;

/** The board's network device. */
export class Nic {
  private link: Deno.Conn | undefined;
  private stopped = false;

  /**
   * @param path the switch's link socket
   * @param log a diagnostic line (the board's `log`)
   */
  constructor(private readonly path: string, private readonly log: (text: string) => void) {}

  /** Connects to the switch and keeps connecting while the machine runs. */
  async start(): Promise<void> {
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
    if (f.type === FrameType.SYNC_DONE) this.log("nic: in sync with the switch");
  }

  /** Closes the link (the machine is halting). */
  stop(): void {
    this.stopped = true;
    try {
      this.link?.close();
    } catch { /* closed */ }
  }
}
