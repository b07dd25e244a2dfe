/**
 * The NVM device: byte-addressed persistent memory modelled by an image file,
 * with a crash-atomic checkpoint commit.
 *
 * Byte map of the image file (every integer little-endian; P = pageCount,
 * H = header table bytes = P × 2 × 16 rounded up to a multiple of 4096):
 *
 * ```text
 *   offset          size       contents
 *   0               4096       superblock slot 0 (written by even epochs)
 *   4096            4096       superblock slot 1 (written by odd epochs)
 *   8192            H          slot header table: 16 bytes per (page p, slot s) at 8192 + (2p + s) × 16
 *   8192 + H        P × 8192   data area: slot s of page p at 8192 + H + (2p + s) × 4096
 *   total = 8192 + H + P × 8192 bytes        (see NvmImage.imageBytesFor)
 *
 *   superblock (4096 bytes)                  slot header (16 bytes)
 *   0     8     magic "TRDGRADE"             0   8   epoch u64 that wrote the slot (0: never)
 *   8     4     formatVersion u32 (= 1)      8   4   dataCrc: crc32 of the slot's 4096 bytes
 *   12    4     pageCount u32                12  4   headerCrc: crc32 of header bytes [0, 12)
 *   16    8     epoch u64 (committed checkpoint)
 *   24    8     createdAtMs f64 (format time)
 *   32    4     rootLength u32 (<= 3072)
 *   36    3072  root bytes (opaque to this module), then zeros
 *   4092  4     crc32 of bytes [0, 4092)
 * ```
 *
 * Commit protocol ("two backup slots per page with versions"): a checkpoint
 * numbered `committedEpoch + 1` writes each dirty page into the slot that does
 * NOT hold the page's newest committed version (data first, then the slot's
 * header), then {@link NvmImage.commit} writes superblock slot `epoch % 2`.
 * The superblock write is the commit point; the other superblock slot still
 * holds the previous epoch.
 *
 * Recovery rules: the image's state is the valid superblock (magic, version,
 * crc) with the highest epoch. Page p reads from its slot with the highest
 * epoch that is <= the committed epoch and has a valid header crc; if that
 * slot's data crc is wrong the image is corrupt (E_IMAGE_CORRUPT). A header
 * with a bad crc, or an epoch above the committed one, is a torn or
 * uncommitted write and is ignored; {@link NvmImage.open} zeroes the headers
 * of uncommitted slots (the scrub), because the next checkpoint reuses their
 * epoch number. A page never written reads as zeros.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../kernel/abi/limits.ts";
import { crc32 } from "./crc32.ts";

/** The only image format version this build reads and writes. */
export const IMAGE_FORMAT_VERSION = 1;
/** Largest root blob a superblock carries. */
export const ROOT_BYTES_MAX = 3072;
/** Largest image, in pages (16 GiB of NVM; its header table is 128 MiB). */
export const IMAGE_PAGES_MAX = 1 << 22;

/** A point in the persistence sequence at which a {@link FaultHook} is called. */
export type PersistStep =
  | "page-before"
  | "page-after"
  | "superblock-before"
  | "superblock-after"
  | "superblock-torn";

/**
 * Called before/after each persistence step; index = page write number within
 * this checkpoint (0-based) or 0 for superblock. May throw to simulate a power
 * failure (the write in progress is abandoned). For "superblock-torn": if the
 * hook returns true for step "superblock-torn", only the first half of the
 * superblock bytes is written and then PowerFailure is thrown.
 *
 * Once a hook throws (or a torn write happens) the image object is dead: its
 * file is closed and every later call throws E_NOT_READY; open the path again.
 */
export type FaultHook = (step: PersistStep, index: number, epoch: number) => boolean | void;

/** A simulated power failure, thrown by a {@link FaultHook} or by a torn superblock write. */
export class PowerFailure extends Error {
  constructor(message = "simulated power failure") {
    super(message);
    this.name = "PowerFailure";
  }
}

/** Options of {@link NvmImage.format} and {@link NvmImage.open}. */
export interface ImageOptions {
  /** Flush the file to stable storage before and after each superblock write. Default false. */
  fsync?: boolean;
  /** Fault-injection hook, see {@link FaultHook}. */
  faultHook?: FaultHook;
}

/** Byte offsets of the regions of an image of `pageCount` pages. */
export interface ImageLayout {
  /** Offset of the slot header table (always 8192). */
  headerTableOffset: number;
  /** Bytes of the slot header table, a multiple of 4096. */
  headerTableBytes: number;
  /** Offset of the data area: slot s of page p is at dataOffset + (2p + s) × 4096. */
  dataOffset: number;
  /** Size of the whole image file. */
  totalBytes: number;
}

const MAGIC = "TRDGRADE";
const MAGIC_BYTES = new TextEncoder().encode(MAGIC);
const SUPERBLOCK_BYTES = 4096;
const SB_VERSION = 8;
const SB_PAGE_COUNT = 12;
const SB_EPOCH = 16;
const SB_CREATED = 24;
const SB_ROOT_LENGTH = 32;
const SB_ROOT = 36;
const SB_CRC = SUPERBLOCK_BYTES - 4;
const HEADER_TABLE_OFFSET = 2 * SUPERBLOCK_BYTES;
const SLOT_HEADER_BYTES = 16;
const SLOT_HEADER_CRC_SPAN = 12;
/** Longest run of slots one bulk read or write moves (1 MiB). */
const RUN_SLOTS_MAX = 256;
/** Header runs closer than this many bytes are merged into one write. */
const HEADER_GAP_MERGE_BYTES = 256;
/** Slots whose headers are read and checked together, on first use (64 KiB of headers). */
const CHUNK_SLOTS = 4096;
const FRESH_HINT = "pass --fresh to format a new image, which destroys this file";

assert(SB_ROOT + ROOT_BYTES_MAX <= SB_CRC, "nvm_image", "root must fit in the superblock");
assert(PAGE_BYTES === 4096, "nvm_image", "the image layout assumes 4096-byte pages");

function badArgument(message: string, detail: Record<string, string | number | boolean> = {}) {
  return new TardigradeError(Err.E_BAD_ARGUMENT, message, detail);
}

/** The region offsets of an image of `pageCount` pages; E_BAD_ARGUMENT if out of range. */
export function imageLayout(pageCount: number): ImageLayout {
  if (!Number.isInteger(pageCount) || pageCount < 1 || pageCount > IMAGE_PAGES_MAX) {
    throw badArgument(`page count ${pageCount} must be an integer in 1..${IMAGE_PAGES_MAX}`, {
      pageCount,
    });
  }
  const headerTableBytes = Math.ceil((pageCount * 2 * SLOT_HEADER_BYTES) / PAGE_BYTES) * PAGE_BYTES;
  const dataOffset = HEADER_TABLE_OFFSET + headerTableBytes;
  return {
    headerTableOffset: HEADER_TABLE_OFFSET,
    headerTableBytes,
    dataOffset,
    totalBytes: dataOffset + pageCount * 2 * PAGE_BYTES,
  };
}

/** Reads exactly `buf.length` bytes at `pos`; E_IMAGE_TRUNCATED if the file ends first. */
function readFull(file: Deno.FsFile, pos: number, buf: Uint8Array, path: string): void {
  file.seekSync(pos, Deno.SeekMode.Start);
  let done = 0;
  while (done < buf.length) {
    const n = file.readSync(buf.subarray(done));
    if (n === null || n === 0) {
      throw new TardigradeError(
        Err.E_IMAGE_TRUNCATED,
        `${path} ended at byte ${pos + done} while reading ${buf.length} bytes at ${pos}: ` +
          `the file was cut short. Restore it from a backup, or ${FRESH_HINT}`,
        { path, offset: pos + done },
      );
    }
    done += n;
  }
}

/** Writes all of `buf` at `pos`. */
function writeFull(file: Deno.FsFile, pos: number, buf: Uint8Array): void {
  file.seekSync(pos, Deno.SeekMode.Start);
  let done = 0;
  while (done < buf.length) done += file.writeSync(buf.subarray(done));
}

/** Reads the u64 at `off` as a number; values above 2^53 come back as Infinity. */
function getEpoch(view: DataView, off: number): number {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  return hi >= 0x200000 ? Infinity : hi * 0x1_0000_0000 + lo;
}

/** The fields of a committed state, as a superblock stores them. */
interface SuperblockFields {
  pageCount: number;
  epoch: number;
  createdAtMs: number;
  root: Uint8Array;
}

/** Builds the 4096 bytes of a superblock, crc included. */
function encodeSuperblock(f: SuperblockFields): Uint8Array {
  assert(f.root.length <= ROOT_BYTES_MAX, "encodeSuperblock", "root too long");
  assert(Number.isSafeInteger(f.epoch) && f.epoch >= 0, "encodeSuperblock", "bad epoch");
  const b = new Uint8Array(SUPERBLOCK_BYTES);
  const v = new DataView(b.buffer);
  b.set(MAGIC_BYTES, 0);
  v.setUint32(SB_VERSION, IMAGE_FORMAT_VERSION, true);
  v.setUint32(SB_PAGE_COUNT, f.pageCount, true);
  v.setBigUint64(SB_EPOCH, BigInt(f.epoch), true);
  v.setFloat64(SB_CREATED, f.createdAtMs, true);
  v.setUint32(SB_ROOT_LENGTH, f.root.length, true);
  b.set(f.root, SB_ROOT);
  v.setUint32(SB_CRC, crc32(b.subarray(0, SB_CRC)), true);
  return b;
}

/** What one superblock slot holds; `fields` is set only when the slot is valid. */
interface SuperblockSlot {
  hasMagic: boolean;
  /** Its formatVersion field (0 if the slot is cut short). */
  version: number;
  /** Whether its crc matches bytes [0, 4092). */
  crcOk: boolean;
  /** Why the slot is not valid, for messages; "" when valid. */
  problem: string;
  fields?: SuperblockFields;
}

/** Decodes one superblock slot from `b` (shorter than 4096 bytes if the file is). */
function decodeSuperblock(b: Uint8Array): SuperblockSlot {
  const hasMagic = b.length >= MAGIC_BYTES.length &&
    MAGIC_BYTES.every((c, i) => b[i] === c);
  if (!hasMagic) return { hasMagic, version: 0, crcOk: false, problem: "has no Tardigrade magic" };
  if (b.length < SUPERBLOCK_BYTES) {
    return { hasMagic, version: 0, crcOk: false, problem: "is cut short by the end of the file" };
  }
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const version = v.getUint32(SB_VERSION, true);
  const crcOk = v.getUint32(SB_CRC, true) === crc32(b.subarray(0, SB_CRC));
  if (version !== IMAGE_FORMAT_VERSION) {
    const problem = `has format version ${version}` + (crcOk ? "" : " and a bad checksum");
    return { hasMagic, version, crcOk, problem };
  }
  if (!crcOk) return { hasMagic, version, crcOk, problem: "has a bad checksum" };
  const pageCount = v.getUint32(SB_PAGE_COUNT, true);
  const epoch = getEpoch(v, SB_EPOCH);
  const createdAtMs = v.getFloat64(SB_CREATED, true);
  const rootLength = v.getUint32(SB_ROOT_LENGTH, true);
  if (
    pageCount < 1 || pageCount > IMAGE_PAGES_MAX || !Number.isSafeInteger(epoch) ||
    !Number.isFinite(createdAtMs) || rootLength > ROOT_BYTES_MAX
  ) {
    return {
      hasMagic,
      version,
      crcOk,
      problem: `has impossible fields (pageCount ${pageCount}, epoch ${epoch}, ` +
        `rootLength ${rootLength})`,
    };
  }
  const root = b.slice(SB_ROOT, SB_ROOT + rootLength);
  return { hasMagic, version, crcOk, problem: "", fields: { pageCount, epoch, createdAtMs, root } };
}

/** The internal state an {@link NvmImage} is built from. */
interface ImageState {
  path: string;
  file: Deno.FsFile;
  opts: ImageOptions;
  fields: SuperblockFields;
  headers: Uint8Array;
  slotEpoch: Float64Array;
  openReport: string[];
  /** False when the slot headers are still to be read from the file (open), chunk by chunk. */
  headersLoaded: boolean;
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

  #file: Deno.FsFile | undefined;
  readonly #fsync: boolean;
  #hook: FaultHook | undefined;
  #epoch: number;
  #root: Uint8Array;
  readonly #createdAtMs: number;
  readonly #dataOffset: number;
  /** Mirror of the on-disk slot header table, byte for byte. */
  readonly #headers: Uint8Array;
  readonly #headerView: DataView;
  /** Epoch of each slot (index 2p + s) whose header is valid; 0 if none. */
  readonly #slotEpoch: Float64Array;
  /**
   * Per chunk of CHUNK_SLOTS slots: 1 once its headers are read, checked and
   * in `#headers` and `#slotEpoch`. Open reads none; a chunk is read before
   * first use, and every chunk before the first commit (see #loadChunk).
   */
  readonly #chunkLoaded: Uint8Array;
  #chunksToLoad: number;
  /** Slots of an uncommitted checkpoint discarded so far, and where openReport says so. */
  #discarded = 0;
  #discardedLine = -1;
  /** Page writes so far in the current checkpoint (the fault hook's index). */
  #pageWrites = 0;
  /** Why this object can no longer be used, or "" while it can. */
  #dead = "";
  #scratch: Uint8Array | undefined;

  private constructor(s: ImageState) {
    this.path = s.path;
    this.pageCount = s.fields.pageCount;
    this.openReport = s.openReport;
    this.#file = s.file;
    this.#fsync = s.opts.fsync ?? false;
    this.#hook = s.opts.faultHook;
    this.#epoch = s.fields.epoch;
    this.#root = s.fields.root;
    this.#createdAtMs = s.fields.createdAtMs;
    this.#dataOffset = imageLayout(this.pageCount).dataOffset;
    this.#headers = s.headers;
    this.#headerView = new DataView(s.headers.buffer, s.headers.byteOffset, s.headers.length);
    this.#slotEpoch = s.slotEpoch;
    assert(s.slotEpoch.length === this.pageCount * 2, "NvmImage", "slot table size");
    const chunks = Math.ceil(s.slotEpoch.length / CHUNK_SLOTS);
    this.#chunkLoaded = new Uint8Array(chunks).fill(s.headersLoaded ? 1 : 0);
    this.#chunksToLoad = s.headersLoaded ? 0 : chunks;
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
      root: new Uint8Array(0),
    };
    const file = Deno.openSync(path, { read: true, write: true, create: true, truncate: true });
    try {
      file.truncateSync(layout.totalBytes); // sparse zeros: no header valid, superblock 1 empty
      writeFull(file, 0, encodeSuperblock(fields));
      if (opts.fsync) file.syncSync();
    } catch (e) {
      file.close();
      throw e;
    }
    return new NvmImage({
      path,
      file,
      opts,
      fields,
      headers: new Uint8Array(layout.headerTableBytes),
      slotEpoch: new Float64Array(pageCount * 2),
      openReport: [],
      headersLoaded: true,
    });
  }

  /**
   * Opens an existing image: picks the newest valid superblock. The slot
   * headers are read later, a chunk at a time before first use and all of
   * them before the next commit; slots left by an uncommitted checkpoint are
   * scrubbed then. Throws E_IMAGE_TRUNCATED, E_IMAGE_NOT_TARDIGRADE,
   * E_IMAGE_VERSION or E_IMAGE_CORRUPT, and then has not modified the file.
   */
  static open(path: string, opts: ImageOptions = {}): NvmImage {
    const file = Deno.openSync(path, { read: true, write: true });
    try {
      return NvmImage.#load(path, file, opts);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** Validation and loading for {@link NvmImage.open}; writes only after every check passed. */
  static #load(path: string, file: Deno.FsFile, opts: ImageOptions): NvmImage {
    const size = file.statSync().size;
    const head = new Uint8Array(Math.min(size, HEADER_TABLE_OFFSET));
    readFull(file, 0, head, path);
    const slots = [
      decodeSuperblock(head.subarray(0, SUPERBLOCK_BYTES)),
      decodeSuperblock(head.subarray(SUPERBLOCK_BYTES)),
    ];
    if (!slots[0].hasMagic && !slots[1].hasMagic) {
      throw new TardigradeError(
        Err.E_IMAGE_NOT_TARDIGRADE,
        `${path} (${size} bytes) is not a Tardigrade image: neither superblock (at bytes 0 and ` +
          `4096) starts with "${MAGIC}". Check the image path, or ${FRESH_HINT}`,
        { path, size },
      );
    }
    if (size < HEADER_TABLE_OFFSET) {
      throw new TardigradeError(
        Err.E_IMAGE_TRUNCATED,
        `${path} is ${size} bytes, shorter than its two superblocks (${HEADER_TABLE_OFFSET} ` +
          `bytes): the file was cut short. Restore it from a backup, or ${FRESH_HINT}`,
        { path, size },
      );
    }
    const valid = [0, 1].filter((i) => slots[i].fields !== undefined);
    if (valid.length === 0) {
      const why = `superblock 0 ${slots[0].problem}, superblock 1 ${slots[1].problem}`;
      // Only a checksummed superblock is trusted to name a format version.
      const versioned = slots.find((s) => s.crcOk && s.version !== IMAGE_FORMAT_VERSION);
      if (versioned) {
        throw new TardigradeError(
          Err.E_IMAGE_VERSION,
          `${path} has image format version ${versioned.version}, but this build reads only ` +
            `version ${IMAGE_FORMAT_VERSION} (${why}). Open it with the build that wrote it, ` +
            `or ${FRESH_HINT}`,
          { path, version: versioned.version },
        );
      }
      throw new TardigradeError(
        Err.E_IMAGE_CORRUPT,
        `${path} is a damaged Tardigrade image: no superblock is valid (${why}). Restore it ` +
          `from a backup, or ${FRESH_HINT}`,
        { path },
      );
    }
    const best = valid.length === 2 && slots[1].fields!.epoch > slots[0].fields!.epoch
      ? 1
      : valid[0];
    const fields = slots[best].fields!;
    const openReport: string[] = [];
    const other = 1 - best;
    if (!slots[other].fields && (slots[other].hasMagic || fields.epoch > 0)) {
      openReport.push(
        `superblock ${other} ${slots[other].problem}; using epoch ${fields.epoch} from ` +
          `superblock ${best}`,
      );
    }

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
      openReport.push(`${path} has ${size - layout.totalBytes} bytes past the image; ignored`);
    }

    // The slot headers are read lazily (#loadChunk): opening a 1 GiB image reads 8 KiB, not 8 MiB.
    const headers = new Uint8Array(layout.headerTableBytes);
    const slotEpoch = new Float64Array(fields.pageCount * 2);
    return new NvmImage({
      path,
      file,
      opts,
      fields,
      headers,
      slotEpoch,
      openReport,
      headersLoaded: false,
    });
  }

  /** The epoch of the last committed checkpoint (0 right after format). */
  get committedEpoch(): number {
    return this.#epoch;
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
    return this.#hook;
  }

  /** Installs or removes the fault-injection hook. */
  set faultHook(h: FaultHook | undefined) {
    this.#hook = h;
  }

  /**
   * Reads the newest committed version of `page` into `out` (4096 bytes).
   * Returns false, with `out` zeroed, if the page was never committed.
   * E_IMAGE_CORRUPT if the slot's data fails its checksum.
   */
  readPage(page: number, out: Uint8Array): boolean {
    const file = this.#live();
    this.#checkPage(page, "readPage");
    this.#checkBuffer(out, PAGE_BYTES, "readPage: out");
    const slot = this.#committedSlot(page);
    if (slot < 0) {
      out.fill(0);
      return false;
    }
    readFull(file, this.#slotOffset(page, slot), out, this.path);
    this.#verify(page, slot, out);
    return true;
  }

  /**
   * Reads pages `first .. first + count - 1` into `out` (count × 4096 bytes),
   * as {@link NvmImage.readPage} would, coalescing nearby slots into one read.
   */
  readPages(first: number, count: number, out: Uint8Array): void {
    const file = this.#live();
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
    let p = 0;
    while (p < count) {
      const slot = this.#committedSlot(first + p);
      if (slot < 0) {
        out.fill(0, p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
        p++;
        continue;
      }
      // Extend a run over following written pages, reading the slots between.
      const runStart = 2 * (first + p) + slot;
      let runEnd = runStart + 1; // exclusive slot index
      let q = p + 1;
      while (q < count) {
        const s = this.#committedSlot(first + q);
        const idx = 2 * (first + q) + s;
        if (s < 0 || idx + 1 - runStart > RUN_SLOTS_MAX) break;
        runEnd = idx + 1;
        q++;
      }
      const buf = this.#scratchBytes((runEnd - runStart) * PAGE_BYTES);
      readFull(file, this.#dataOffset + runStart * PAGE_BYTES, buf, this.path);
      for (let r = p; r < q; r++) {
        const s = this.#committedSlot(first + r);
        const at = (2 * (first + r) + s - runStart) * PAGE_BYTES;
        const dst = out.subarray(r * PAGE_BYTES, (r + 1) * PAGE_BYTES);
        dst.set(buf.subarray(at, at + PAGE_BYTES));
        this.#verify(first + r, s, dst);
      }
      p = q;
    }
  }

  /**
   * Writes `data` (4096 bytes) as page `page` of checkpoint `epoch`, which must
   * be `committedEpoch + 1`. Invisible to reads until {@link NvmImage.commit}.
   */
  writePage(page: number, epoch: number, data: Uint8Array): void {
    this.#live();
    this.#checkEpoch(epoch, "writePage");
    this.#checkPage(page, "writePage");
    this.#checkBuffer(data, PAGE_BYTES, "writePage: data");
    this.#writeOne(page, epoch, data);
  }

  /**
   * Writes several pages of checkpoint `epoch`, as repeated
   * {@link NvmImage.writePage} calls would (a page listed twice ends with its
   * last data). Checks every argument before writing anything. Without a fault
   * hook, adjacent slots and nearby headers go out in one write each.
   */
  writePages(epoch: number, pages: Array<{ page: number; data: Uint8Array }>): void {
    this.#live();
    this.#checkEpoch(epoch, "writePages");
    const seen = new Set<number>();
    for (const { page, data } of pages) {
      this.#checkPage(page, "writePages");
      this.#checkBuffer(data, PAGE_BYTES, `writePages: data of page ${page}`);
      seen.add(page);
    }
    if (this.#hook !== undefined || seen.size !== pages.length) {
      for (const { page, data } of pages) this.#writeOne(page, epoch, data);
      return;
    }
    this.#guard("writePages", () => this.#writeCoalesced(epoch, pages));
  }

  /**
   * Commits checkpoint `epoch` (`committedEpoch + 1`) with `root` (at most
   * ROOT_BYTES_MAX bytes) by writing superblock slot `epoch % 2`; with the
   * fsync option, flushes the page writes first and the superblock after.
   */
  commit(epoch: number, root: Uint8Array): void {
    const file = this.#live();
    this.#checkEpoch(epoch, "commit");
    if (!(root instanceof Uint8Array) || root.length > ROOT_BYTES_MAX) {
      throw badArgument(`commit: root must be a Uint8Array of at most ${ROOT_BYTES_MAX} bytes`, {
        length: root instanceof Uint8Array ? root.length : -1,
      });
    }
    const rootCopy = root.slice();
    const sb = encodeSuperblock({
      pageCount: this.pageCount,
      epoch,
      createdAtMs: this.#createdAtMs,
      root: rootCopy,
    });
    const at = (epoch % 2) * SUPERBLOCK_BYTES;
    // A slot the crashed checkpoint wrote with this epoch would turn valid with this commit.
    this.loadSlotHeaders();
    this.#guard("commit", () => {
      if (this.#fsync) file.syncDataSync();
      this.#callHook("superblock-before", 0, epoch);
      if (this.#callHook("superblock-torn", 0, epoch)) {
        writeFull(file, at, sb.subarray(0, SUPERBLOCK_BYTES / 2));
        throw new PowerFailure(
          `power failed halfway through superblock ${epoch % 2} of epoch ${epoch}`,
        );
      }
      writeFull(file, at, sb);
      if (this.#fsync) file.syncDataSync();
      this.#epoch = epoch;
      this.#root = rootCopy;
      this.#pageWrites = 0;
      this.#callHook("superblock-after", 0, epoch);
    });
  }

  /** Closes the file; later calls throw E_NOT_READY. Closing twice is harmless. */
  close(): void {
    if (this.#dead === "") this.#dead = "it was closed";
    const f = this.#file;
    this.#file = undefined;
    f?.close();
  }

  /**
   * Reads and checks every slot header not read yet (open leaves them to
   * first use); afterwards `openReport` says how many slots of an
   * uncommitted checkpoint were discarded. The next commit does this itself.
   */
  loadSlotHeaders(): void {
    for (let c = 0; this.#chunksToLoad > 0 && c < this.#chunkLoaded.length; c++) {
      this.#loadChunk(c);
    }
  }

  // ---- internals ----

  /**
   * Reads chunk `c` of the slot-header table and records each valid slot's
   * epoch. A slot with an epoch past the committed one was written by a
   * checkpoint that never committed (its epoch will be reused): its header
   * is zeroed on disk. Every chunk is loaded before the first commit after
   * open, so `#epoch` here is still the epoch the image was opened at, and
   * no chunk holds a slot this session wrote.
   */
  #loadChunk(c: number): void {
    if (this.#chunkLoaded[c]) return;
    const file = this.#live();
    const first = c * CHUNK_SLOTS;
    const end = Math.min(first + CHUNK_SLOTS, this.#slotEpoch.length);
    const headers = this.#headers;
    const view = this.#headerView;
    readFull(
      file,
      HEADER_TABLE_OFFSET + first * SLOT_HEADER_BYTES,
      headers.subarray(first * SLOT_HEADER_BYTES, end * SLOT_HEADER_BYTES),
      this.path,
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
      const crc = view.getUint32(off + SLOT_HEADER_CRC_SPAN, true);
      if (crc32(headers.subarray(off, off + SLOT_HEADER_CRC_SPAN)) !== crc) continue; // torn
      const epoch = getEpoch(view, off);
      if (epoch <= this.#epoch && epoch > 0) {
        this.#slotEpoch[i] = epoch;
        continue;
      }
      headers.fill(0, off, off + SLOT_HEADER_BYTES);
      if (scrubFirst < 0) scrubFirst = i;
      scrubLast = i;
      scrubbed++;
    }
    if (scrubbed > 0) {
      const from = scrubFirst * SLOT_HEADER_BYTES;
      const to = (scrubLast + 1) * SLOT_HEADER_BYTES;
      writeFull(file, HEADER_TABLE_OFFSET + from, headers.subarray(from, to));
      if (this.#fsync) file.syncSync();
      this.#discarded += scrubbed;
      const line = `discarded ${this.#discarded} page slot(s) written after epoch ${this.#epoch} ` +
        `by a checkpoint that never committed`;
      if (this.#discardedLine < 0) this.#discardedLine = this.openReport.push(line) - 1;
      else this.openReport[this.#discardedLine] = line;
    }
    this.#chunkLoaded[c] = 1;
    this.#chunksToLoad--;
  }

  /** The open file, or E_NOT_READY if the image was closed or lost power. */
  #live(): Deno.FsFile {
    if (this.#file === undefined || this.#dead !== "") {
      throw new TardigradeError(
        Err.E_NOT_READY,
        `image ${this.path} cannot be used because ${this.#dead}; open it again`,
        { path: this.path },
      );
    }
    return this.#file;
  }

  /**
   * Runs a step that writes to the file. Any exception (a hook's simulated
   * power failure, a torn write, an I/O error) leaves the file in an unknown
   * state, so the object dies: the file is closed and later calls fail.
   */
  #guard(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#dead = `${what} was interrupted (${e instanceof Error ? e.message : String(e)})`;
      const file = this.#file;
      this.#file = undefined;
      file?.close();
      throw e;
    }
  }

  /** Calls the fault hook, if any; true only if it returned true. */
  #callHook(step: PersistStep, index: number, epoch: number): boolean {
    return this.#hook !== undefined && this.#hook(step, index, epoch) === true;
  }

  /** One page write: hook, data, header, hook. Arguments already checked. */
  #writeOne(page: number, epoch: number, data: Uint8Array): void {
    const file = this.#live();
    this.#guard("writePage", () => {
      const index = this.#pageWrites;
      this.#callHook("page-before", index, epoch);
      const slot = this.#targetSlot(page);
      const idx = 2 * page + slot;
      writeFull(file, this.#dataOffset + idx * PAGE_BYTES, data);
      this.#setHeader(idx, epoch, crc32(data));
      const off = idx * SLOT_HEADER_BYTES;
      writeFull(
        file,
        HEADER_TABLE_OFFSET + off,
        this.#headers.subarray(off, off + SLOT_HEADER_BYTES),
      );
      this.#slotEpoch[idx] = epoch;
      this.#pageWrites = index + 1;
      this.#callHook("page-after", index, epoch);
    });
  }

  /** Writes distinct pages with no hook: data runs of adjacent slots, then header runs. */
  #writeCoalesced(epoch: number, pages: Array<{ page: number; data: Uint8Array }>): void {
    const file = this.#file!;
    const order = pages
      .map(({ page, data }) => ({ idx: 2 * page + this.#targetSlot(page), data }))
      .sort((a, b) => a.idx - b.idx);
    for (let i = 0; i < order.length;) {
      let j = i + 1;
      while (j < order.length && order[j].idx === order[j - 1].idx + 1 && j - i < RUN_SLOTS_MAX) {
        j++;
      }
      const at = this.#dataOffset + order[i].idx * PAGE_BYTES;
      if (j === i + 1) {
        writeFull(file, at, order[i].data);
      } else {
        const buf = this.#scratchBytes((j - i) * PAGE_BYTES);
        for (let k = i; k < j; k++) buf.set(order[k].data, (k - i) * PAGE_BYTES);
        writeFull(file, at, buf);
      }
      i = j;
    }
    for (const { idx, data } of order) this.#setHeader(idx, epoch, crc32(data));
    for (let i = 0; i < order.length;) {
      let j = i + 1;
      while (
        j < order.length &&
        (order[j].idx - order[j - 1].idx) * SLOT_HEADER_BYTES <= HEADER_GAP_MERGE_BYTES
      ) j++;
      const from = order[i].idx * SLOT_HEADER_BYTES;
      const to = (order[j - 1].idx + 1) * SLOT_HEADER_BYTES;
      writeFull(file, HEADER_TABLE_OFFSET + from, this.#headers.subarray(from, to));
      i = j;
    }
    for (const { idx } of order) this.#slotEpoch[idx] = epoch;
    this.#pageWrites += order.length;
  }

  /** Fills the in-memory header of slot `idx` (not yet written to disk). */
  #setHeader(idx: number, epoch: number, dataCrc: number): void {
    const off = idx * SLOT_HEADER_BYTES;
    const v = this.#headerView;
    v.setBigUint64(off, BigInt(epoch), true);
    v.setUint32(off + 8, dataCrc, true);
    v.setUint32(off + 12, crc32(this.#headers.subarray(off, off + SLOT_HEADER_CRC_SPAN)), true);
  }

  /** The slot of `page` holding its newest committed version, or -1 if none. */
  #committedSlot(page: number): number {
    this.#loadChunk((2 * page) / CHUNK_SLOTS | 0);
    const c = this.#epoch;
    const e0 = this.#slotEpoch[2 * page];
    const e1 = this.#slotEpoch[2 * page + 1];
    const ok0 = e0 > 0 && e0 <= c;
    const ok1 = e1 > 0 && e1 <= c;
    if (ok0 && ok1) return e1 > e0 ? 1 : 0;
    return ok0 ? 0 : ok1 ? 1 : -1;
  }

  /** The slot the next checkpoint writes `page` into: the one not holding its committed version. */
  #targetSlot(page: number): number {
    const s = this.#committedSlot(page);
    return s < 0 ? 0 : 1 - s;
  }

  /** File offset of the data of `slot` of `page`. */
  #slotOffset(page: number, slot: number): number {
    return this.#dataOffset + (2 * page + slot) * PAGE_BYTES;
  }

  /** Throws E_IMAGE_CORRUPT if `data`, read from `slot` of `page`, fails its stored checksum. */
  #verify(page: number, slot: number, data: Uint8Array): void {
    const idx = 2 * page + slot;
    const stored = this.#headerView.getUint32(idx * SLOT_HEADER_BYTES + 8, true);
    const actual = crc32(data);
    if (stored === actual) return;
    const epoch = this.#slotEpoch[idx];
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
    if (epoch !== this.#epoch + 1) {
      throw badArgument(
        `${where}: epoch ${epoch} is not the next checkpoint; the committed epoch is ` +
          `${this.#epoch}, so use ${this.#epoch + 1}`,
        { epoch, committedEpoch: this.#epoch },
      );
    }
  }

  /** A reusable buffer of exactly `bytes` bytes (a view of a grown scratch area). */
  #scratchBytes(bytes: number): Uint8Array {
    if (this.#scratch === undefined || this.#scratch.length < bytes) {
      this.#scratch = new Uint8Array(Math.max(bytes, 16 * PAGE_BYTES));
    }
    return this.#scratch.subarray(0, bytes);
  }
}
