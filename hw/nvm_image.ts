/**
 * The NVM device: byte-addressed persistent memory modelled by an image file,
 * with a crash-atomic checkpoint commit. This module is the image as its
 * users see it (open, format, read, write, commit, the file lock); the
 * device's parts are:
 *
 * - hw/nvm_layout.ts: the byte map of the file, the offsets and sizes, what
 *   each crc covers, the format's limits;
 * - hw/nvm_superblock.ts: superblock encode, decode, and the choice of slot at open;
 * - hw/nvm_slots.ts: the slot table (headers read lazily, the scrub of an
 *   uncommitted checkpoint's slots, the live check, the valid slot of each page);
 * - hw/nvm_writer.ts: the checkpoint writer and its fault hook (the power
 *   scenario injects through it), with the read-back of what it wrote;
 * - hw/nvm_file.ts: the locked file, whole-buffer reads and writes, dead after a failure.
 *
 * Commit protocol ("two backup slots per page with versions"): a checkpoint
 * numbered `committedEpoch + 1` writes each dirty page into the slot that does
 * NOT hold the page's newest committed version (all data runs first, then the
 * header runs), reads back what it wrote and checks it, then
 * {@link NvmImage.commit} writes superblock slot `epoch % 2` and reads it
 * back. The superblock write is the commit point; the other superblock slot
 * still holds the previous epoch. A write that did not reach the file (lost,
 * torn, or landed elsewhere) fails the read-back, and the checkpoint is not
 * committed (E_IMAGE_IO).
 *
 * Recovery rules: the image's state is the valid superblock (magic, version,
 * crc) with the highest epoch. Page p reads from its slot with the highest
 * epoch that is <= the committed epoch and has a valid header crc; if that
 * slot's data crc is wrong the image is corrupt (E_IMAGE_CORRUPT). A header
 * with a bad crc (torn, or written at another slot's place: the crc covers
 * the slot index), or an epoch above the committed one, is ignored; the
 * headers of uncommitted slots are zeroed (the scrub), because the next
 * checkpoint reuses their epoch number. A page never written reads as zeros.
 * Once every header is read, the pages with a committed version and the sum
 * of their header crcs must equal the superblock's liveSlots and liveSum: a
 * header of a committed checkpoint that never reached the device (an older
 * header left in its place, or none) is E_IMAGE_CORRUPT, never a silent step
 * back to an older version of the page.
 *
 * @module
 */

import { Err, TardigradeError } from "../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../kernel/abi/limits.ts";
import { crc32 } from "./crc32.ts";
import { ImageFile, ioError } from "./nvm_file.ts";
import {
  badArgument,
  FRESH_HINT,
  HEADER_TABLE_OFFSET,
  imageLayout,
  ROOT_BYTES_MAX,
  RUN_SLOTS_MAX,
} from "./nvm_layout.ts";
import { SlotTable } from "./nvm_slots.ts";
import { chooseSuperblock, encodeSuperblock, type SuperblockFields } from "./nvm_superblock.ts";
import { CheckpointWriter, type FaultHook, PowerFailure } from "./nvm_writer.ts";

export {
  IMAGE_FORMAT_VERSION,
  IMAGE_PAGES_MAX,
  type ImageLayout,
  imageLayout,
  ROOT_BYTES_MAX,
} from "./nvm_layout.ts";
export {
  type FaultHook,
  type PersistStep,
  PowerFailure,
  WRITE_FAULTS,
  type WriteFault,
  type WriteKind,
} from "./nvm_writer.ts";

/** Options of {@link NvmImage.format} and {@link NvmImage.open}. */
export interface ImageOptions {
  /** Flush the file to stable storage before and after each superblock write. Default false. */
  fsync?: boolean;
  /** Fault-injection hook, see {@link FaultHook}. */
  faultHook?: FaultHook;
}

/**
 * An open NVM image. Reads see only committed state; writes build the next
 * checkpoint (`committedEpoch + 1`), which {@link NvmImage.commit} makes
 * durable atomically.
 */
export class NvmImage {
  /** The image file's path. */
  readonly path: string;
  /** Pages of NVM capacity. */
  readonly pageCount: number;
  /** Problems found and repaired (or worked around) by {@link NvmImage.open}, one line each. */
  readonly openReport: string[];

  readonly #file: ImageFile;
  readonly #slots: SlotTable;
  readonly #writer: CheckpointWriter;
  #root: Uint8Array;
  readonly #createdAtMs: number;
  readonly #dataOffset: number;

  private constructor(
    file: ImageFile,
    fields: SuperblockFields,
    opts: ImageOptions,
    report: string[],
    loaded: boolean,
  ) {
    this.path = file.path;
    this.pageCount = fields.pageCount;
    this.openReport = report;
    this.#file = file;
    this.#root = fields.root;
    this.#createdAtMs = fields.createdAtMs;
    this.#dataOffset = imageLayout(this.pageCount).dataOffset;
    this.#slots = new SlotTable(file, { ...fields, loaded, report });
    this.#writer = new CheckpointWriter(file, this.#slots, this.#dataOffset, opts.faultHook);
  }

  /** The file size of an image with `pageCount` pages of capacity. */
  static imageBytesFor(pageCount: number): number {
    return imageLayout(pageCount).totalBytes;
  }

  /**
   * Creates (or truncates and overwrites) `path` as an empty image with
   * `bytes / 4096` pages of capacity, committed at epoch 0 with an empty root.
   * `bytes` must be a positive multiple of 4096.
   */
  static format(path: string, bytes: number, opts: ImageOptions = {}): NvmImage {
    if (!Number.isInteger(bytes) || bytes < PAGE_BYTES || bytes % PAGE_BYTES !== 0) {
      throw badArgument(`image capacity ${bytes} must be a positive multiple of ${PAGE_BYTES}`, {
        bytes,
      });
    }
    const pageCount = bytes / PAGE_BYTES;
    const layout = imageLayout(pageCount);
    const fields: SuperblockFields = {
      pageCount,
      epoch: 0,
      createdAtMs: Date.now(),
      liveSlots: 0,
      liveSum: 0,
      root: new Uint8Array(0),
    };
    // Locked before the truncation: a running machine's image stays whole.
    const file = ImageFile.open(path, { create: true, fsync: opts.fsync ?? false });
    try {
      file.reset(layout.totalBytes); // sparse zeros: no header valid, superblock 1 empty
      file.write(0, encodeSuperblock(fields));
      if (file.fsync) file.sync();
    } catch (e) {
      file.close();
      throw e;
    }
    return new NvmImage(file, fields, opts, [], true);
  }

  /**
   * Opens an existing image: picks the newest valid superblock. The slot
   * headers are read later, a chunk at a time before first use and all of
   * them before the next commit; slots left by an uncommitted checkpoint are
   * scrubbed then. Throws E_IMAGE_BUSY (another open image holds the file's
   * lock), E_IMAGE_TRUNCATED, E_IMAGE_NOT_TARDIGRADE, E_IMAGE_VERSION or
   * E_IMAGE_CORRUPT, and then has not modified the file.
   */
  static open(path: string, opts: ImageOptions = {}): NvmImage {
    const file = ImageFile.open(path, { create: false, fsync: opts.fsync ?? false });
    try {
      return NvmImage.#load(file, opts);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Validation and loading for {@link NvmImage.open}; writes only after every check passed. */
  static #load(file: ImageFile, opts: ImageOptions): NvmImage {
    const path = file.path;
    const size = file.size();
    const head = new Uint8Array(Math.min(size, HEADER_TABLE_OFFSET));
    file.read(0, head);
    const { fields, report } = chooseSuperblock(path, size, head);
    const layout = imageLayout(fields.pageCount);
    if (size < layout.totalBytes) {
      throw new TardigradeError(
        Err.E_IMAGE_TRUNCATED,
        `${path} is ${size} bytes, but its superblock (${fields.pageCount} pages) needs ` +
          `${layout.totalBytes}: the file was cut short. Restore it from a backup, or ${FRESH_HINT}`,
        { path, size, expected: layout.totalBytes },
      );
    }
    if (size > layout.totalBytes) {
      report.push(`${path} has ${size - layout.totalBytes} bytes past the image; ignored`);
    }
    // The slot headers are read lazily (SlotTable): opening a 1 GiB image reads 8 KiB, not 8 MiB.
    return new NvmImage(file, fields, opts, report, false);
  }

  /** The epoch of the last committed checkpoint (0 right after format). */
  get committedEpoch(): number {
    return this.#slots.epoch;
  }

  /** A copy of the root blob of the last committed checkpoint. */
  get committedRoot(): Uint8Array {
    return this.#root.slice();
  }

  /** When the image was formatted (ms since the Unix epoch). */
  get createdAtMs(): number {
    return this.#createdAtMs;
  }

  /** The fault-injection hook, or undefined. */
  get faultHook(): FaultHook | undefined {
    return this.#writer.hook;
  }

  /** Installs or removes the fault-injection hook. */
  set faultHook(h: FaultHook | undefined) {
    this.#writer.hook = h;
  }

  /**
   * Reads the newest committed version of `page` into `out` (4096 bytes).
   * Returns false, with `out` zeroed, if the page was never committed.
   * E_IMAGE_CORRUPT if the slot's data fails its checksum.
   */
  readPage(page: number, out: Uint8Array): boolean {
    this.#file.checkLive();
    this.#checkPage(page, "readPage");
    this.#checkBuffer(out, PAGE_BYTES, "readPage: out");
    const slot = this.#slots.committedSlot(page);
    if (slot < 0) {
      out.fill(0);
      return false;
    }
    this.#file.read(this.#dataOffset + (2 * page + slot) * PAGE_BYTES, out);
    this.#verify(page, slot, out);
    return true;
  }

  /**
   * Reads pages `first .. first + count - 1` into `out` (count × 4096 bytes),
   * as {@link NvmImage.readPage} would, coalescing nearby slots into one read.
   */
  readPages(first: number, count: number, out: Uint8Array): void {
    this.#file.checkLive();
    if (
      !Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 ||
      first + count > this.pageCount
    ) {
      throw badArgument(
        `readPages: pages ${first}..${first + count - 1} are outside the image's ` +
          `${this.pageCount} pages`,
        { first, count },
      );
    }
    this.#checkBuffer(out, count * PAGE_BYTES, "readPages: out");
    for (let p = 0; p < count;) p = this.#readRun(first, count, p, out);
  }

  /**
   * One read of {@link readPages}: page `first + p` and the following written
   * pages whose slots lie within RUN_SLOTS_MAX of its slot (the slots between
   * are read too), or one never-written page (zeros). Returns the next `p`.
   */
  #readRun(first: number, count: number, p: number, out: Uint8Array): number {
    const slots = this.#slots;
    const slot = slots.committedSlot(first + p);
    if (slot < 0) {
      out.fill(0, p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
      return p + 1;
    }
    const runStart = 2 * (first + p) + slot;
    let runEnd = runStart + 1; // exclusive slot index
    let q = p + 1;
    while (q < count) {
      const s = slots.committedSlot(first + q);
      const idx = 2 * (first + q) + s;
      if (s < 0 || idx + 1 - runStart > RUN_SLOTS_MAX) break;
      runEnd = idx + 1;
      q++;
    }
    const buf = this.#file.scratch((runEnd - runStart) * PAGE_BYTES);
    this.#file.read(this.#dataOffset + runStart * PAGE_BYTES, buf);
    for (let r = p; r < q; r++) {
      const s = slots.committedSlot(first + r);
      const at = (2 * (first + r) + s - runStart) * PAGE_BYTES;
      const dst = out.subarray(r * PAGE_BYTES, (r + 1) * PAGE_BYTES);
      dst.set(buf.subarray(at, at + PAGE_BYTES));
      this.#verify(first + r, s, dst);
    }
    return q;
  }

  /**
   * Writes `data` (4096 bytes) as page `page` of checkpoint `epoch`, which must
   * be `committedEpoch + 1`. Invisible to reads until {@link NvmImage.commit}.
   */
  writePage(page: number, epoch: number, data: Uint8Array): void {
    this.writePages(epoch, [{ page, data }]);
  }

  /**
   * Writes several pages of checkpoint `epoch` (a page listed twice ends with
   * its last data). Checks every argument before writing anything; adjacent
   * slots go out in one write, then nearby headers in one write. The fault
   * hook sees each of those writes. E_IMAGE_IO if the OS fails a write.
   */
  writePages(epoch: number, pages: Array<{ page: number; data: Uint8Array }>): void {
    this.#file.checkLive();
    this.#checkEpoch(epoch, "writePages");
    const last = new Map<number, Uint8Array>();
    for (const { page, data } of pages) {
      this.#checkPage(page, "writePages");
      this.#checkBuffer(data, PAGE_BYTES, `writePages: data of page ${page}`);
      last.set(page, data);
    }
    this.#guard("writePages", () => this.#writer.writePages(epoch, last));
  }

  /**
   * Commits checkpoint `epoch` (`committedEpoch + 1`) with `root` (at most
   * ROOT_BYTES_MAX bytes): reads back the slots and headers this checkpoint
   * wrote and checks them, then writes superblock slot `epoch % 2` and reads
   * it back. With the fsync option, flushes the page writes first and the
   * superblock after. E_IMAGE_IO if a write failed or did not reach the file
   * (then nothing was committed); E_IMAGE_CORRUPT if the image's committed
   * slot headers disagree with its superblock.
   */
  commit(epoch: number, root: Uint8Array): void {
    const file = this.#file;
    file.checkLive();
    this.#checkEpoch(epoch, "commit");
    if (!(root instanceof Uint8Array) || root.length > ROOT_BYTES_MAX) {
      throw badArgument(`commit: root must be a Uint8Array of at most ${ROOT_BYTES_MAX} bytes`, {
        length: root instanceof Uint8Array ? root.length : -1,
      });
    }
    // A slot the crashed checkpoint wrote with this epoch would turn valid with this commit.
    this.loadSlotHeaders();
    const rootCopy = root.slice();
    const live = this.#slots.liveAfter(this.#writer.written);
    const sb = encodeSuperblock({
      pageCount: this.pageCount,
      epoch,
      createdAtMs: this.#createdAtMs,
      liveSlots: live.slots,
      liveSum: live.sum,
      root: rootCopy,
    });
    this.#guard("commit", () => {
      this.#writer.verifyWritten(epoch);
      if (file.fsync) file.syncData();
      this.#writer.writeSuperblock(epoch, sb);
      if (file.fsync) file.syncData();
      this.#slots.committed(epoch, live);
      this.#root = rootCopy;
      this.#writer.reset();
    });
  }

  /** Closes the file (and so drops its lock); later calls throw E_NOT_READY. Closing twice is harmless. */
  close(): void {
    this.#file.close();
  }

  /**
   * Reads and checks every slot header not read yet (open leaves them to
   * first use); afterwards `openReport` says how many slots of an
   * uncommitted checkpoint were discarded. The next commit does this itself.
   * E_IMAGE_CORRUPT if the committed headers disagree with the superblock.
   */
  loadSlotHeaders(): void {
    this.#slots.loadAll();
  }

  /**
   * Runs a step that writes to the file. Any exception (a power failure, a
   * torn write, an I/O error, a failed read-back) leaves the file in an
   * unknown state, so the object dies: the file is closed and later calls
   * fail. An OS error is rethrown as E_IMAGE_IO naming it.
   */
  #guard(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#file.kill(
        `${what} was interrupted (${e instanceof Error ? e.message : String(e)})`,
      );
      if (e instanceof PowerFailure || e instanceof TardigradeError || !(e instanceof Error)) {
        throw e;
      }
      throw ioError(this.path, what, e);
    }
  }

  /** Throws E_IMAGE_CORRUPT if `data`, read from `slot` of `page`, fails its stored checksum. */
  #verify(page: number, slot: number, data: Uint8Array): void {
    const idx = 2 * page + slot;
    const stored = this.#slots.dataCrcOf(idx);
    const actual = crc32(data);
    if (stored === actual) return;
    const epoch = this.#slots.slotEpoch(idx);
    throw new TardigradeError(
      Err.E_IMAGE_CORRUPT,
      `${this.path}: page ${page} slot ${slot} (epoch ${epoch}) fails its data checksum ` +
        `(stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)}): the image is ` +
        `damaged. Restore it from a backup, or ${FRESH_HINT}`,
      { path: this.path, page, slot, epoch },
    );
  }

  /** E_BAD_ARGUMENT unless `page` is a page index of this image. */
  #checkPage(page: number, where: string): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pageCount) {
      throw badArgument(
        `${where}: page ${page} is outside the image's ${this.pageCount} pages ` +
          `(0..${this.pageCount - 1})`,
        { page, pageCount: this.pageCount },
      );
    }
  }

  /** E_BAD_ARGUMENT unless `buf` is a Uint8Array of exactly `length` bytes. */
  #checkBuffer(buf: Uint8Array, length: number, where: string): void {
    if (!(buf instanceof Uint8Array) || buf.length !== length) {
      throw badArgument(
        `${where} must be a Uint8Array of ${length} bytes, not ` +
          (buf instanceof Uint8Array ? `${buf.length}` : typeof buf),
        { expected: length },
      );
    }
  }

  /** E_BAD_ARGUMENT unless `epoch` is the next checkpoint's number. */
  #checkEpoch(epoch: number, where: string): void {
    const committed = this.#slots.epoch;
    if (epoch !== committed + 1) {
      throw badArgument(
        `${where}: epoch ${epoch} is not the next checkpoint; the committed epoch is ` +
          `${committed}, so use ${committed + 1}`,
        { epoch, committedEpoch: committed },
      );
    }
  }
}
