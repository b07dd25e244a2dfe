/**
 * Keyboard lines to a machine's console input device (kernel/abi/console_in.ts),
 * none lost and none taken twice across crashes: the supervisor's
 * (tools/boot.ts) and the tests' one sender.
 *
 * Each line gets a number; the feed keeps it until the machine reports
 * (`{"t":"console-input","lines":N}`, at the device's attach and at each
 * commit that moved it) that its committed state holds every line below N.
 * A machine that is powered on again, or rolled back whole (a system
 * rollback), reports what its image holds at once (`attached`); the feed
 * then sends it the lines from N on, with their numbers, and the device
 * drops any it already has. Numbering starts at the first machine's
 * first report (a resumed image goes on from its own count), so lines
 * typed before it wait; so do lines typed while a machine powers on.
 *
 * One feed is the device's only sender: a line sent around it (a raw
 * `console-input` without `seq`) moves the count under the feed.
 *
 * @module
 */

import { type MachineCommand, toCommand } from "../hw/commands.ts";
import type { MachineProcess } from "./machine_process.ts";

/** One line and its number. */
interface Numbered {
  seq: number;
  text: string;
}

/** The lines of one sender (see the module doc). */
export class ConsoleFeed {
  /** Lines numbered, not yet covered by a report, oldest first. */
  private readonly unacked: Numbered[] = [];
  /** Lines typed before the numbering is known. */
  private readonly unnumbered: string[] = [];
  /** The next line's number, once the first report came. */
  private next: number | undefined;
  private machine: MachineProcess | undefined;
  /** True once the current machine reported: its device is attached, lines may go. */
  private live = false;
  /** Sends go out in order, one after another. */
  private sending: Promise<void> = Promise.resolve();

  /** @param note a line for the user (lines sent again after a crash) */
  constructor(private readonly note: (text: string) => void = () => {}) {}

  /** The machine lines go to from now on (each one started, fresh or resumed). */
  attach(m: MachineProcess): void {
    this.machine = m;
    this.live = false;
    m.onLine((l) => {
      if (l.t === "console-input" && this.machine === m) {
        this.onReport(m, l.lines, l.attached === true);
      }
    });
    // The device reports before the machine is ready: a machine without one says nothing.
    m.ready().then(() => {
      if (this.machine === m && !this.live) {
        this.note(
          "this machine has no console input device (its image was made before it existed): " +
            "typed lines wait; boot with --fresh to have one",
        );
      }
    }, () => {});
  }

  /** Queues one keyboard line; throws (a message naming the limit) for a line the device refuses. */
  type(text: string): void {
    toCommand({ t: "console-input", text });
    if (this.next === undefined) {
      this.unnumbered.push(text);
      return;
    }
    const line = { seq: this.next++, text };
    this.unacked.push(line);
    if (this.live && this.machine) this.post(this.machine, line);
  }

  /** Lines typed that no committed state holds yet. */
  get waiting(): number {
    return this.unacked.length + this.unnumbered.length;
  }

  /** Resolves once every send so far has been written to the machine (or failed with it). */
  flushed(): Promise<void> {
    return this.sending;
  }

  private onReport(m: MachineProcess, lines: number, attached: boolean): void {
    while (this.unacked.length > 0 && this.unacked[0].seq < lines) this.unacked.shift();
    if (!attached) return;
    this.live = true;
    if (this.next === undefined || this.next < lines) this.next = lines;
    if (this.unacked.length > 0) {
      this.note(`${this.unacked.length} typed line(s) no checkpoint held: sending them again`);
    }
    for (const line of this.unacked) this.post(m, line);
    for (const text of this.unnumbered.splice(0)) this.type(text);
  }

  private post(m: MachineProcess, line: Numbered): void {
    const cmd: MachineCommand = { t: "console-input", text: line.text, seq: line.seq };
    this.sending = this.sending.then(() => m.send(cmd)).catch(() => {
      // The machine died: the line stays unacked and goes to the next one.
    });
  }
}
