/**
 * The checkpoint writer of an NVM image: every byte a checkpoint sends to
 * the file goes through {@link CheckpointWriter.put}, which asks the fault
 * hook (the power scenario and `--power-fail` inject through it) what to do
 * with the write.
 *
 * - Fault model: {@link WriteKind}, {@link WriteFault}, {@link FaultHook},
 *   {@link PowerFailure}.
 * - {@link CheckpointWriter.writePages}: data runs of adjacent slots, then
 *   header runs of nearby headers.
 * - {@link CheckpointWriter.verifyWritten}: reads back what the checkpoint
 *   wrote; E_IMAGE_IO (not committed) if it is not on the file.
 * - {@link CheckpointWriter.writeSuperblock}: the commit point, read back.
 *
 * @module
 */

import { Err, TardigradeError } from "../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../kernel/abi/limits.ts";
import { crc32 } from "./crc32.ts";
import type { ImageFile } from "./nvm_file.ts";
import {
  HEADER_GAP_MERGE_BYTES,
  HEADER_TABLE_OFFSET,
  RUN_SLOTS_MAX,
  SLOT_HEADER_BYTES,
  slotName,
  SUPERBLOCK_BYTES,
  superblockOffset,
} from "./nvm_layout.ts";
import type { SlotTable } from "./nvm_slots.ts";

/** The writes of a checkpoint: a run of data slots, a run of slot headers, the superblock. */
export type WriteKind = "data" | "header" | "superblock";

/**
 * What a {@link FaultHook} makes of one write: "before" (power fails before
 * it), "torn" (a part of it reaches the file, then power fails: half of the
 * run rounded to whole slots or headers, then half a slot or header), "lost"
 * (acknowledged, never written; the checkpoint goes on), "after" (power fails
 * once it is written), "eio" (the write fails with an I/O error, as the OS
 * reports one).
 */
export type WriteFault = "before" | "torn" | "lost" | "after" | "eio";

/** All write faults, in the order the power scenario injects them. */
export const WRITE_FAULTS: readonly WriteFault[] = ["before", "torn", "lost", "after", "eio"];

/** A fault at a kind of write, as `--power-fail` names it: "data-torn", "superblock-lost", … */
export type PersistStep = `${WriteKind}-${WriteFault}`;

/**
 * Called before each write of a checkpoint with its kind, its index (the
 * run's number within this checkpoint, 0-based, counted per kind; 0 for the
 * superblock) and the epoch; returns the fault to inject, or nothing for a
 * plain write. It may also throw, which abandons the write.
 *
 * After a power failure (PowerFailure), an I/O error or a failed read-back
 * the image object is dead: its file is closed and every later call throws
 * E_NOT_READY; open the path again.
 */
export type FaultHook = (
  write: WriteKind,
  index: number,
  epoch: number,
) => WriteFault | undefined | void;

/** A simulated power failure, thrown by a write a {@link FaultHook} chose to fail. */
export class PowerFailure extends Error {
  constructor(message = "simulated power failure") {
    super(message);
    this.name = "PowerFailure";
  }
}

/** How much of a torn write of `length` bytes (whole `unit`s) reaches the file. */
function tornLength(length: number, unit: number): number {
  return Math.floor(length / unit / 2) * unit + unit / 2;
}

/** Runs of sorted slot indices `order`: consecutive entries at most `gapMax` apart, at most `lengthMax` slots long. */
function runsOf(order: number[], gapMax: number, lengthMax: number): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < order.length;) {
    let j = i + 1;
    while (
      j < order.length && order[j] - order[j - 1] <= gapMax && order[j] - order[i] < lengthMax
    ) j++;
    runs.push([i, j]);
    i = j;
  }
  return runs;
}

/** The writes of the checkpoint being built, through the fault hook. */
export class CheckpointWriter {
  /** The fault-injection hook, or undefined. */
  hook: FaultHook | undefined;
  /** Slots (2p + s) written by the current checkpoint. */
  readonly written = new Set<number>();
  readonly #file: ImageFile;
  readonly #slots: SlotTable;
  readonly #dataOffset: number;
  /** Data and header runs written so far in the current checkpoint (the fault hook's index). */
  #runCount = { data: 0, header: 0 };

  constructor(file: ImageFile, slots: SlotTable, dataOffset: number, hook?: FaultHook) {
    this.#file = file;
    this.#slots = slots;
    this.#dataOffset = dataOffset;
    this.hook = hook;
  }

  /** Writes distinct pages of checkpoint `epoch`: data runs of adjacent slots, then header runs. */
  writePages(epoch: number, pages: Map<number, Uint8Array>): void {
    const slots = new Map<number, Uint8Array>();
    for (const [page, data] of pages) slots.set(2 * page + this.#slots.targetSlot(page), data);
    const order = [...slots.keys()].sort((a, b) => a - b);
    for (const [i, j] of runsOf(order, 1, RUN_SLOTS_MAX)) {
      const at = this.#dataOffset + order[i] * PAGE_BYTES;
      let buf = slots.get(order[i])!;
      if (j > i + 1) {
        buf = this.#file.scratch((j - i) * PAGE_BYTES);
        for (let k = i; k < j; k++) buf.set(slots.get(order[k])!, (k - i) * PAGE_BYTES);
      }
      this.put("data", at, buf, PAGE_BYTES, epoch);
    }
    for (const idx of order) {
      this.#slots.setHeader(idx, epoch, crc32(slots.get(idx)!));
      this.written.add(idx);
    }
    const gap = HEADER_GAP_MERGE_BYTES / SLOT_HEADER_BYTES;
    const headers = this.#slots.headers;
    for (const [i, j] of runsOf(order, gap, Infinity)) {
      const from = order[i] * SLOT_HEADER_BYTES;
      const to = (order[j - 1] + 1) * SLOT_HEADER_BYTES;
      this.put("header", HEADER_TABLE_OFFSET + from, headers.subarray(from, to), 16, epoch);
    }
  }

  /**
   * Reads back every slot and header this checkpoint wrote: each slot's data
   * must match its header's crc and each header its bytes in memory.
   * E_IMAGE_IO (not committed) names the first that does not. Header runs
   * are read back as they were written, one read a run.
   */
  verifyWritten(epoch: number): void {
    const file = this.#file;
    const order = [...this.written].sort((a, b) => a - b);
    for (const [i, j] of runsOf(order, 1, RUN_SLOTS_MAX)) {
      const buf = file.scratch((j - i) * PAGE_BYTES);
      file.read(this.#dataOffset + order[i] * PAGE_BYTES, buf);
      for (let k = i; k < j; k++) {
        const data = buf.subarray((k - i) * PAGE_BYTES, (k - i + 1) * PAGE_BYTES);
        const want = this.#slots.dataCrcOf(order[k]);
        if (crc32(data) !== want) throw this.#notWritten(`data of ${slotName(order[k])}`, epoch);
      }
    }
    // The header runs as writePages wrote them: one read each, not one per header.
    const headers = this.#slots.headers;
    const gap = HEADER_GAP_MERGE_BYTES / SLOT_HEADER_BYTES;
    for (const [i, j] of runsOf(order, gap, Infinity)) {
      const from = order[i] * SLOT_HEADER_BYTES;
      const to = (order[j - 1] + 1) * SLOT_HEADER_BYTES;
      const back = file.scratch(to - from);
      file.read(HEADER_TABLE_OFFSET + from, back);
      const bad = firstDifference(back, headers.subarray(from, to));
      if (bad >= 0) {
        throw this.#notWritten(
          `header of ${slotName((from + bad) / SLOT_HEADER_BYTES | 0)}`,
          epoch,
        );
      }
    }
  }

  /**
   * Writes superblock `sb` of checkpoint `epoch` into slot `epoch % 2` (the
   * commit point) and reads it back; E_IMAGE_IO if it did not reach the file.
   * Then the next checkpoint starts: no slot written, run counts at 0.
   */
  writeSuperblock(epoch: number, sb: Uint8Array): void {
    const at = superblockOffset(epoch);
    this.put("superblock", at, sb, SUPERBLOCK_BYTES, epoch);
    const back = this.#file.scratch(SUPERBLOCK_BYTES);
    this.#file.read(at, back);
    if (firstDifference(back, sb) >= 0) throw this.#notWritten(`superblock ${epoch % 2}`, epoch);
  }

  /** Forgets the checkpoint just committed: the next one has written nothing yet. */
  reset(): void {
    this.written.clear();
    this.#runCount = { data: 0, header: 0 };
  }

  /**
   * One write of `bytes` at `at`, of kind `kind`, in whole `unit`s, through
   * the fault hook: the one place a checkpoint's bytes reach the file.
   */
  put(kind: WriteKind, at: number, bytes: Uint8Array, unit: number, epoch: number): void {
    const file = this.#file;
    const index = kind === "superblock" ? 0 : this.#runCount[kind]++;
    const fault = this.hook?.(kind, index, epoch) ?? undefined;
    const where = `${kind} write #${index} of epoch ${epoch}`;
    switch (fault) {
      case undefined:
        return file.write(at, bytes);
      case "before":
        throw new PowerFailure(`power failed before ${where}`);
      case "torn":
        file.write(at, bytes.subarray(0, tornLength(bytes.length, unit)));
        throw new PowerFailure(`power failed partway through ${where}`);
      case "lost":
        return; // acknowledged, never written
      case "after":
        file.write(at, bytes);
        throw new PowerFailure(`power failed right after ${where}`);
      case "eio":
        throw Object.assign(new Error("Input/output error (os error 5)"), { code: "EIO" });
    }
  }

  /** E_IMAGE_IO: what a checkpoint wrote is not what the file holds. */
  #notWritten(what: string, epoch: number): TardigradeError {
    const path = this.#file.path;
    return new TardigradeError(
      Err.E_IMAGE_IO,
      `${path}: the ${what} written by checkpoint ${epoch} reads back different (the ` +
        `write was lost, torn or went elsewhere), so checkpoint ${epoch} was not committed and ` +
        `the image still holds epoch ${this.#slots.epoch}. Check the disk, then boot again to resume`,
      { path, epoch },
    );
  }
}

/** The index of the first byte where `a` and `b` (of one length) differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
