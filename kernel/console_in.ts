/**
 * The console input device, the kernel's side: its PMO (role "console-in",
 * kernel/abi/console_in.ts) in init's INIT_CONSOLE_IN_SLOT and its IRQ (line
 * "console-in") in INIT_CONSOLE_IN_IRQ_SLOT, made at a fresh boot.
 *
 * The board passes each keyboard line (`{"t":"console-input"}` on the
 * command port, hw/commands.ts) to the kernel, which writes it into the
 * ring in one synchronous turn (a cut is synchronous too, so it holds the
 * whole line or none of it) and fires the line, signalling the notification
 * the program bound. Lines come numbered by the sender; the device's LINES
 * (kernel/abi/console_in.ts) is recorded at each cut and reported by the
 * board at the commit, and reported at once when the device is attached
 * (a fresh boot, a resume: what the image holds is committed). Unnumbered lines that come before
 * the PMO is attached (the boot is under way) wait here, at most {@link EARLY_LINES_MAX}; numbered
 * ones are dropped at the attach, since the sender sends them again after its report; a line the ring
 * has no room for (the program consumes nothing) is refused with a
 * diagnostic. An image made before the device existed has none: its lines
 * are refused the same way.
 *
 * @module
 */

import {
  CONSOLE_IN_PAGES,
  consoleInLines,
  ConsoleInWriter,
  encodeConsoleLine,
} from "./abi/console_in.ts";
import { Err } from "./abi/errors.ts";
import type { PmoBuffers } from "./abi/layout.ts";
import { ObjKind, type PmoRecord } from "./objects/records.ts";
import type { PmoManager } from "./memory.ts";
import type { ObjectTable } from "./object_table.ts";

/** Lines kept while the device is not attached yet (the boot is under way). */
const EARLY_LINES_MAX = 64;

/** The console input device as the kernel keeps it. */
export class ConsoleInDevice {
  private writer: ConsoleInWriter | undefined;
  private pmo: PmoBuffers | undefined;
  private early: Array<{ text: string; seq?: number }> = [];
  /** True once attached, or once the boot found none (lines are refused then). */
  private settled = false;

  /**
   * @param log a diagnostic line (a refused line)
   * @param fire fires the device's IRQ line (a line was written)
   * @param report tells the board the LINES of the attached device (committed)
   */
  constructor(
    private readonly log: (text: string) => void,
    private readonly fire: () => void,
    private readonly report: (lines: number) => void,
  ) {}

  /** Fresh boot: makes the PMO in cap group `owner` and attaches it. */
  async create(pmos: PmoManager, owner: number): Promise<PmoRecord> {
    const pmo = pmos.create(CONSOLE_IN_PAGES, "console-in", owner);
    this.attach(await pmos.ensureLoaded(pmo.id));
    return pmo;
  }

  /** Resume: attaches the restored PMO (as the committed checkpoint holds it), if the image has one. */
  async resume(table: ObjectTable, pmos: PmoManager): Promise<void> {
    for (const pmo of table.ofKind(ObjKind.PMO)) {
      if (pmo.role === "console-in") return this.attach(await pmos.ensureLoaded(pmo.id));
    }
    this.settled = true;
    this.refuseEarly("this image has no console input device (it was made before it existed)");
  }

  private attach(pmo: PmoBuffers): void {
    this.pmo = pmo;
    this.writer = new ConsoleInWriter(pmo);
    this.settled = true;
    this.report(consoleInLines(pmo));
    const early = this.early;
    this.early = [];
    // A numbered line that came early (a system rollback: the sender kept typing while the system
    // came back) is dropped: the sender answers the report just made by sending every line from
    // LINES on, in order. Taken now, it would leave a gap below it, and the lines the sender then
    // sends again into that gap would be duplicates, lost.
    for (const { text, seq } of early) if (seq === undefined) this.type(text);
  }

  /** LINES now (at the cut), if there is a device. */
  lines(): number | undefined {
    return this.pmo ? consoleInLines(this.pmo) : undefined;
  }

  private refuseEarly(why: string): void {
    for (const { text } of this.early) this.refuse(text, why);
    this.early = [];
  }

  private refuse(text: string, why: string): void {
    this.log(`console input refused (${why}): ${text.slice(0, 80)}`);
  }

  /**
   * A keyboard line numbered `seq` (none: the next): into the ring, and the
   * IRQ fired; one the device has already is dropped; refused with a
   * diagnostic when it cannot go.
   */
  type(text: string, seq?: number): void {
    if (!this.writer) {
      if (this.settled) return this.refuse(text, "no console input device");
      if (this.early.length >= EARLY_LINES_MAX) return this.refuse(text, "the boot is under way");
      this.early.push({ text, seq });
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeConsoleLine(text);
    } catch (e) {
      return this.refuse(text, (e as Error).message);
    }
    const done = this.writer.write(bytes, seq);
    if (done === "full") {
      return this.refuse(
        text,
        `${Err[Err.E_WOULD_BLOCK]}: the program has not read the lines before it`,
      );
    }
    if (done === "taken") this.fire();
  }
}
