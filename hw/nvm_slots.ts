/**
 * The slot table of an NVM image: the in-memory mirror of the slot header
 * table, read lazily a chunk at a time, and the choice of the slot each page
 * reads from and the one the next checkpoint writes.
 *
 * - Lazy headers: open reads none; chunk c (CHUNK_SLOTS slots) is read and
 *   checked before its first use ({@link SlotTable.committedSlot}), and every
 *   chunk before the first commit after open ({@link SlotTable.loadAll}).
 * - Scrub: a valid header with an epoch past the committed one was written
 *   by a checkpoint that never committed; it is zeroed on disk as its chunk
 *   is read, because the next checkpoint reuses that epoch number.
 * - Live check: once every chunk is read, the committed versions found must
 *   be the ones the superblock counted (liveSlots, liveSum), or the image is
 *   E_IMAGE_CORRUPT (a committed header that never reached the device).
 * - Choice: a page reads from its slot with the highest committed epoch
 *   ({@link SlotTable.committedSlot}); the next checkpoint writes the other
 *   one ({@link SlotTable.targetSlot}).
 * - {@link slotHeaderEpoch} and {@link newestCommittedSlot}: the header
 *   check and the choice as pure functions, which the read-only inspector
 *   (tools/inspect/image.ts) applies to a header table it read itself.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../kernel/abi/errors.ts";
import type { ImageFile } from "./nvm_file.ts";
import {
  CHUNK_SLOTS,
  FRESH_HINT,
  HEADER_TABLE_OFFSET,
  headerCrcOf,
  imageLayout,
  readEpoch,
  SLOT_DATA_CRC,
  SLOT_HEADER_BYTES,
  SLOT_HEADER_CRC_SPAN,
} from "./nvm_layout.ts";

/** The committed state a slot table starts from: the opened (or formatted) superblock's. */
export interface SlotTableState {
  pageCount: number;
  /** The committed epoch. */
  epoch: number;
  /** The superblock's liveSlots and liveSum. */
  liveSlots: number;
  liveSum: number;
  /** True when every header is known already (a fresh format: all zero). */
  loaded: boolean;
  /** Where the scrub reports what it discarded (the image's openReport). */
  report: string[];
}

/** The slot headers of one image, and the committed epoch they are read against. */
export class SlotTable {
  /** Mirror of the on-disk slot header table, byte for byte. */
  readonly headers: Uint8Array;
  readonly #view: DataView;
  readonly #file: ImageFile;
  /** The committed epoch. */
  #epoch: number;
  /** Epoch of each slot (index 2p + s) whose header is valid; 0 if none. */
  readonly #slotEpoch: Float64Array;
  /** Per chunk of CHUNK_SLOTS slots: 1 once its headers are read, checked and mirrored. */
  readonly #chunkLoaded: Uint8Array;
  #chunksToLoad: number;
  /** Slots of an uncommitted checkpoint discarded so far, and where the report says so. */
  #discarded = 0;
  #discardedLine = -1;
  readonly #report: string[];
  /**
   * Pages with a committed version and the sum of their header crcs, over the
   * chunks read so far (all of them, from the first commit on); the opened
   * superblock's figures, which they must equal once every chunk is read.
   */
  #liveSlots = 0;
  #liveSum = 0;
  readonly #sealSlots: number;
  readonly #sealSum: number;

  constructor(file: ImageFile, s: SlotTableState) {
    this.#file = file;
    this.#epoch = s.epoch;
    this.#report = s.report;
    this.#sealSlots = s.liveSlots;
    this.#sealSum = s.liveSum;
    if (s.loaded) {
      this.#liveSlots = s.liveSlots;
      this.#liveSum = s.liveSum;
    }
    const slots = s.pageCount * 2;
    this.headers = new Uint8Array(imageLayout(s.pageCount).headerTableBytes);
    this.#view = new DataView(this.headers.buffer);
    this.#slotEpoch = new Float64Array(slots);
    const chunks = Math.ceil(slots / CHUNK_SLOTS);
    this.#chunkLoaded = new Uint8Array(chunks).fill(s.loaded ? 1 : 0);
    this.#chunksToLoad = s.loaded ? 0 : chunks;
    assert(this.#slotEpoch.length === s.pageCount * 2, "SlotTable", "slot table size");
  }

  /** The committed epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Reads and checks every chunk not read yet; E_IMAGE_CORRUPT as {@link SlotTable}'s live check. */
  loadAll(): void {
    for (let c = 0; this.#chunksToLoad > 0 && c < this.#chunkLoaded.length; c++) {
      this.#loadChunk(c);
    }
  }

  /** The slot of `page` holding its newest committed version, or -1 if none. */
  committedSlot(page: number): number {
    this.#loadChunk((2 * page) / CHUNK_SLOTS | 0);
    return this.#newestSlot(page);
  }

  /** The slot the next checkpoint writes `page` into: the one not holding its committed version. */
  targetSlot(page: number): number {
    const s = this.committedSlot(page);
    return s < 0 ? 0 : 1 - s;
  }

  /** The epoch that wrote slot `idx`, as its valid header says (0 if none). */
  slotEpoch(idx: number): number {
    return this.#slotEpoch[idx];
  }

  /** The stored dataCrc of slot `idx` (its header as in memory). */
  dataCrcOf(idx: number): number {
    return this.#view.getUint32(idx * SLOT_HEADER_BYTES + SLOT_DATA_CRC, true);
  }

  /**
   * Fills the in-memory header of slot `idx` for checkpoint `epoch` (not yet
   * written to disk, and not committed: reads go on choosing by the
   * committed epoch).
   */
  setHeader(idx: number, epoch: number, dataCrc: number): void {
    const off = idx * SLOT_HEADER_BYTES;
    const v = this.#view;
    v.setBigUint64(off, BigInt(epoch), true);
    v.setUint32(off + SLOT_DATA_CRC, dataCrc, true);
    v.setUint32(off + SLOT_HEADER_CRC_SPAN, headerCrcOf(this.headers, idx), true);
    this.#slotEpoch[idx] = epoch;
  }

  /** The live figures after the slots `written` (by the next checkpoint) are committed. */
  liveAfter(written: Iterable<number>): { slots: number; sum: number } {
    let slots = this.#liveSlots;
    let sum = this.#liveSum;
    for (const idx of written) {
      const old = this.committedSlot(idx >> 1); // the written slot is not committed yet
      if (old >= 0) {
        slots--;
        sum -= this.#crcOfSlot(2 * (idx >> 1) + old);
      }
      slots++;
      sum += this.#crcOfSlot(idx);
    }
    return { slots, sum: sum >>> 0 };
  }

  /** Records checkpoint `epoch` committed, with the live figures {@link liveAfter} gave. */
  committed(epoch: number, live: { slots: number; sum: number }): void {
    this.#epoch = epoch;
    this.#liveSlots = live.slots;
    this.#liveSum = live.sum;
  }

  /**
   * Reads chunk `c` of the slot-header table and records each valid slot's
   * epoch; headers of an uncommitted checkpoint are scrubbed. Every chunk is
   * loaded before the first commit after open, so `#epoch` here is still the
   * epoch the image was opened at, and no chunk holds a slot this session
   * wrote. The last chunk read checks the committed headers against the
   * superblock (#checkLive).
   */
  #loadChunk(c: number): void {
    if (this.#chunkLoaded[c]) return;
    const first = c * CHUNK_SLOTS;
    const end = Math.min(first + CHUNK_SLOTS, this.#slotEpoch.length);
    const headers = this.headers;
    this.#file.read(
      HEADER_TABLE_OFFSET + first * SLOT_HEADER_BYTES,
      headers.subarray(first * SLOT_HEADER_BYTES, end * SLOT_HEADER_BYTES),
    );
    // Whole words, not DataView calls: most slots were never written.
    const words = new Int32Array(headers.buffer, headers.byteOffset, headers.length >> 2);
    let scrubFirst = -1;
    let scrubLast = -1;
    let scrubbed = 0;
    for (let i = first; i < end; i++) {
      const w = i * (SLOT_HEADER_BYTES >> 2);
      if ((words[w] | words[w + 1] | words[w + 2] | words[w + 3]) === 0) continue; // never written
      const off = i * SLOT_HEADER_BYTES;
      const epoch = slotHeaderEpoch(headers, this.#view, i);
      if (epoch < 0) continue; // torn, or another slot's
      if (epoch <= this.#epoch && epoch > 0) {
        this.#slotEpoch[i] = epoch;
        continue;
      }
      headers.fill(0, off, off + SLOT_HEADER_BYTES);
      if (scrubFirst < 0) scrubFirst = i;
      scrubLast = i;
      scrubbed++;
    }
    if (scrubbed > 0) this.#scrub(scrubFirst, scrubLast, scrubbed);
    for (let p = first >> 1; p < end >> 1; p++) {
      const s = this.#newestSlot(p);
      if (s < 0) continue;
      this.#liveSlots++;
      this.#liveSum = (this.#liveSum + this.#crcOfSlot(2 * p + s)) >>> 0;
    }
    this.#chunkLoaded[c] = 1;
    this.#chunksToLoad--;
    if (this.#chunksToLoad === 0) this.#checkLive();
  }

  /** Zeroes on disk the headers `first..last` cleared in memory, and reports them. */
  #scrub(first: number, last: number, count: number): void {
    const from = first * SLOT_HEADER_BYTES;
    const to = (last + 1) * SLOT_HEADER_BYTES;
    this.#file.write(HEADER_TABLE_OFFSET + from, this.headers.subarray(from, to));
    if (this.#file.fsync) this.#file.sync();
    this.#discarded += count;
    const line = `discarded ${this.#discarded} page slot(s) written after epoch ${this.#epoch} ` +
      `by a checkpoint that never committed`;
    if (this.#discardedLine < 0) this.#discardedLine = this.#report.push(line) - 1;
    else this.#report[this.#discardedLine] = line;
  }

  /**
   * With every header read: the committed versions found must be the ones the
   * superblock counted. A committed header that never reached the device (an
   * older one left in place) would otherwise read as an older version of its
   * page: E_IMAGE_CORRUPT, and the image file is closed.
   */
  #checkLive(): void {
    if (this.#liveSlots === this.#sealSlots && this.#liveSum === this.#sealSum) return;
    const path = this.#file.path;
    const e = new TardigradeError(
      Err.E_IMAGE_CORRUPT,
      `${path}: checkpoint ${this.#epoch} committed ${this.#sealSlots} page versions ` +
        `(header crc sum 0x${this.#sealSum.toString(16)}), but the slot headers hold ` +
        `${this.#liveSlots} (sum 0x${this.#liveSum.toString(16)}): a slot header write of a ` +
        `committed checkpoint was lost or went elsewhere, and some page would read an older ` +
        `version. Restore the image from a backup, or ${FRESH_HINT}`,
      { path, epoch: this.#epoch, liveSlots: this.#liveSlots },
    );
    this.#file.kill(e.message);
    throw e;
  }

  /** The stored headerCrc of slot `idx` (its header as in memory). */
  #crcOfSlot(idx: number): number {
    return this.#view.getUint32(idx * SLOT_HEADER_BYTES + SLOT_HEADER_CRC_SPAN, true);
  }

  /** As {@link committedSlot}, for a page whose chunk is loaded. */
  #newestSlot(page: number): number {
    return newestCommittedSlot(
      this.#slotEpoch[2 * page],
      this.#slotEpoch[2 * page + 1],
      this.#epoch,
    );
  }
}

/**
 * The epoch in slot `idx`'s header (in `headers`, the header table, with
 * `view` over it), or -1 when its headerCrc fails (a torn header, a damaged
 * one, or one written at another slot's place). A header of all zeros (a
 * slot never written) fails too: callers tell those apart first.
 */
export function slotHeaderEpoch(headers: Uint8Array, view: DataView, idx: number): number {
  const stored = view.getUint32(idx * SLOT_HEADER_BYTES + SLOT_HEADER_CRC_SPAN, true);
  if (headerCrcOf(headers, idx) !== stored) return -1;
  return readEpoch(view, idx * SLOT_HEADER_BYTES);
}

/**
 * Which slot of a page a reader takes, given the epochs its two valid
 * headers name (0: none) and the committed epoch: the one with the highest
 * epoch not above `committed`; -1 when neither is committed.
 */
export function newestCommittedSlot(e0: number, e1: number, committed: number): number {
  const ok0 = e0 > 0 && e0 <= committed;
  const ok1 = e1 > 0 && e1 <= committed;
  if (ok0 && ok1) return e1 > e0 ? 1 : 0;
  return ok0 ? 0 : ok1 ? 1 : -1;
}
