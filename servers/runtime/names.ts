/**
 * Named capabilities: a program asks for "my capability to fs", never for a
 * slot number. Two sources, looked up in this order:
 *
 * - given: what the parent granted, passed as `caps` (name → slot) in the
 *   thread's start args (kernel/abi/slots.ts CAPS_ARG), e.g. `service`,
 *   `timer`, `memory`, `fs`. The kernel keeps start args with the thread, so
 *   they hold across a resume and a restart.
 * - kept: what the program made itself (its state PMO, its connections),
 *   remembered in its slot record, a 1-page PMO the parent grants in
 *   Slot.RECORD. The record is persistent memory like any other: a resumed
 *   program finds its objects by name (servers/runtime/service.ts
 *   `lastingPmo`, `lastingConnection`).
 *
 * Slot record layout ({@link RecordLayout}), little-endian: a header (u32
 * magic, u32 entry count), then {@link RECORD_ENTRIES_MAX} entries of
 * {@link RecordLayout.ENTRY_BYTES} bytes: u32 slot, u8 name length, the name
 * in UTF-8. An entry is written before the count that makes it visible.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { CAPS_ARG } from "../../kernel/abi/slots.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";

/** Where things are in a slot record (byte offsets). */
export enum RecordLayout {
  MAGIC = 0,
  COUNT = 4,
  ENTRIES = 16,
  /** Bytes of one entry. */
  ENTRY_BYTES = 32,
  /** Offsets within an entry. */
  ENTRY_SLOT = 0,
  ENTRY_NAME_LENGTH = 4,
  ENTRY_NAME = 5,
}

/** "SLOT" in ASCII: marks a slot record that has been written. */
const RECORD_MAGIC = 0x544f4c53;
/** Longest name a record keeps, in UTF-8 bytes. */
export const RECORD_NAME_BYTES_MAX = RecordLayout.ENTRY_BYTES - RecordLayout.ENTRY_NAME;
/** Entries one record holds. */
export const RECORD_ENTRIES_MAX = Math.floor(
  (PAGE_BYTES - RecordLayout.ENTRIES) / RecordLayout.ENTRY_BYTES,
);

assert(
  RecordLayout.ENTRIES + RECORD_ENTRIES_MAX * RecordLayout.ENTRY_BYTES <= PAGE_BYTES,
  "names",
  "a slot record fits one page",
);
assert(RECORD_NAME_BYTES_MAX < 256, "names", "a name length fits one byte");

/** Names every parent in the tree uses for what it grants. */
export const CapName = {
  /** A server's own endpoint (RECEIVE). */
  SERVICE: "service",
  /** An app's timer notification. */
  TIMER: "timer",
  /** The NIC's transmit ring (the network driver's; kernel/abi/nic.ts). */
  NIC: "nic",
  /** The NIC's receive ring and connection table (the network driver's; kernel/abi/nic_rx.ts). */
  NIC_RX: "nic-rx",
  /** The NIC's IRQ (the network driver binds a notification to it). */
  NIC_IRQ: "nic-irq",
  /** The console input device's PMO (typed lines; kernel/abi/console_in.ts): the shell's. */
  CONSOLE_IN: "console-in",
  /** The console input device's IRQ (the shell binds a notification to it). */
  CONSOLE_IN_IRQ: "console-in-irq",
  /** The network driver (a program's CALL capability to it). */
  NET: "net",
  /** The system monitor (kernel/objects/monitor.ts): the shell's, READ or READ and CONTROL. */
  MONITOR: "monitor",
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A program's named capabilities: those given at start, and those kept in its record. */
export class SlotNames {
  constructor(
    private readonly given: Readonly<Record<string, number>>,
    private readonly record: PersistentMemory | null,
    private readonly owner: string,
  ) {}

  /** The slot named `name`, or undefined. */
  get(name: string): number | undefined {
    if (Object.hasOwn(this.given, name)) return this.given[name];
    const at = this.find(name);
    return at === -1 ? undefined : this.record!.getU32(at + RecordLayout.ENTRY_SLOT);
  }

  /** The slot named `name`; E_NOT_FOUND, naming the ones there are, if none. */
  cap(name: string): number {
    const slot = this.get(name);
    if (slot !== undefined) return slot;
    throw new TardigradeError(
      Err.E_NOT_FOUND,
      `${this.owner}: no capability named "${name}" (it has: ${
        this.names().join(", ") || "none"
      }); ` +
        `add "${name}" to its needs in servers/init/config.ts`,
      { name },
    );
  }

  /**
   * Keeps `slot` under `name` in the slot record (replacing an entry of that
   * name). E_NOT_FOUND without a record; E_LIMIT when the record is full.
   */
  remember(name: string, slot: number): void {
    const mem = this.requireRecord(name);
    const at = this.find(name);
    if (at !== -1) return mem.setU32(at + RecordLayout.ENTRY_SLOT, slot);
    const bytes = encoder.encode(name);
    if (bytes.length < 1 || bytes.length > RECORD_NAME_BYTES_MAX) {
      throw new TardigradeError(
        Err.E_BAD_ARGUMENT,
        `${this.owner}: a kept name is 1..${RECORD_NAME_BYTES_MAX} bytes, "${name}" is ${bytes.length}`,
      );
    }
    const count = this.count();
    if (count >= RECORD_ENTRIES_MAX) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `${this.owner}: the slot record holds ${RECORD_ENTRIES_MAX} names; "${name}" does not fit`,
      );
    }
    const entry = RecordLayout.ENTRIES + count * RecordLayout.ENTRY_BYTES;
    mem.setU32(entry + RecordLayout.ENTRY_SLOT, slot);
    mem.write(entry + RecordLayout.ENTRY_NAME_LENGTH, Uint8Array.of(bytes.length));
    mem.write(entry + RecordLayout.ENTRY_NAME, bytes);
    mem.setU32(RecordLayout.MAGIC, RECORD_MAGIC);
    mem.setU32(RecordLayout.COUNT, count + 1);
  }

  /** Every name this program can look up. */
  names(): string[] {
    const out = Object.keys(this.given);
    for (let i = 0; i < this.count(); i++) out.push(this.nameAt(this.entry(i)));
    return out;
  }

  private requireRecord(name: string): PersistentMemory {
    if (this.record) return this.record;
    throw new TardigradeError(
      Err.E_NOT_FOUND,
      `${this.owner}: no slot record to keep "${name}" in; start the program with servers/init/spawn.ts`,
      { name },
    );
  }

  private count(): number {
    if (!this.record || this.record.getU32(RecordLayout.MAGIC) !== RECORD_MAGIC) return 0;
    const count = this.record.getU32(RecordLayout.COUNT);
    assert(count <= RECORD_ENTRIES_MAX, "SlotNames.count", `record count ${count} is impossible`);
    return count;
  }

  private entry(i: number): number {
    return RecordLayout.ENTRIES + i * RecordLayout.ENTRY_BYTES;
  }

  private nameAt(entry: number): string {
    const length = this.record!.bytes[entry + RecordLayout.ENTRY_NAME_LENGTH];
    assert(length <= RECORD_NAME_BYTES_MAX, "SlotNames.nameAt", `name length ${length}`);
    const from = entry + RecordLayout.ENTRY_NAME;
    return decoder.decode(this.record!.bytes.subarray(from, from + length));
  }

  /** Byte offset of the entry named `name`, or -1. */
  private find(name: string): number {
    for (let i = 0; i < this.count(); i++) {
      if (this.nameAt(this.entry(i)) === name) return this.entry(i);
    }
    return -1;
  }
}

/** The `caps` table of a thread's start args, checked (a bad table is E_BAD_ARGUMENT). */
export function givenCaps(args: Record<string, unknown>, owner: string): Record<string, number> {
  const caps = args[CAPS_ARG] ?? {};
  const ok = typeof caps === "object" && caps !== null && !Array.isArray(caps) &&
    Object.values(caps).every((s) => Number.isInteger(s));
  if (!ok) {
    throw new TardigradeError(
      Err.E_BAD_ARGUMENT,
      `${owner}: start argument "caps" must map names to slot numbers, not ${JSON.stringify(caps)}`,
    );
  }
  return caps as Record<string, number>;
}
