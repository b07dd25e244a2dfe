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
 *   8     4     formatVersion u32 (= 2)      8   4   dataCrc: crc32 of the slot's 4096 bytes
 *   12    4     pageCount u32                12  4   headerCrc: crc32 of header bytes [0, 12)
 *   16    8     epoch u64 (committed)                 then of the slot index 2p + s (u32)
 *   24    8     createdAtMs f64 (format time)
 *   32    4     liveSlots u32: pages with a committed version
 *   36    4     liveSum u32: sum mod 2^32 of those versions' headerCrc
 *   40    4     rootLength u32 (<= 3072)
 *   44    3072  root bytes (opaque to this module), then zeros
 *   4092  4     crc32 of bytes [0, 4092)
 * ```
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

import { assert, Err, TardigradeError } from "../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../kernel/abi/limits.ts";
import { crc32 } from "./crc32.ts";

/**
 * The only image format version this build reads and writes. Version 1 had
 * no slot index in the header crc and no liveSlots/liveSum: E_IMAGE_VERSION.
 */
export const IMAGE_FORMAT_VERSION = 2;
/** Largest root blob a superblock carries. */
export const ROOT_BYTES_MAX = 3072;
/** Largest image, in pages (16 GiB of NVM; its header table is 128 MiB). */
export const IMAGE_PAGES_MAX = 1 << 22;

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
const SB_LIVE_SLOTS = 32;
const SB_LIVE_SUM = 36;
const SB_ROOT_LENGTH = 40;
const SB_ROOT = 44;
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

/** Scratch for the slot index that each header crc ends with. */
const SLOT_INDEX_BYTES = new Uint8Array(4);
const SLOT_INDEX_VIEW = new DataView(SLOT_INDEX_BYTES.buffer);

/** The headerCrc of slot `idx` whose header is at `idx × 16` in `headers`: bytes [0, 12), then idx. */
function headerCrcOf(headers: Uint8Array, idx: number): number {
  const off = idx * SLOT_HEADER_BYTES;
  SLOT_INDEX_VIEW.setUint32(0, idx, true);
  return crc32(SLOT_INDEX_BYTES, crc32(headers.subarray(off, off + SLOT_HEADER_CRC_SPAN)));
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

/** "page 5 slot 1" for slot index 11. */
function slotName(idx: number): string {
  return `page ${idx >> 1} slot ${idx & 1}`;
}

/** E_IMAGE_IO for an error the OS reported while `what` ran on `path`. */
function ioError(path: string, what: string, e: Error): TardigradeError {
  const os = (e as { code?: string }).code ?? e.name;
  return new TardigradeError(
    Err.E_IMAGE_IO,
    `${what} on ${path} failed: ${os}: ${e.message}. The checkpoint was not committed and the ` +
      `image still holds the previous one; free space or fix the disk, then boot again to resume`,
    { path, os },
  );
}

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

/**
 * Takes the exclusive lock of an image file (flock): E_IMAGE_BUSY if another
 * open image holds it. The lock goes with the file's closing or the process's
 * death (a SIGKILLed machine leaves none behind).
 */
function lockImage(file: Deno.FsFile, path: string): void {
  if (file.tryLockSync(true)) return;
  throw new TardigradeError(
    Err.E_IMAGE_BUSY,
    `${path} is in use by another machine, which holds its lock. Stop that machine first ` +
      `(Ctrl-C in its supervisor), or boot this one with another --image`,
    { path },
  );
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
  /** Pages with a committed version at `epoch`, and the sum mod 2^32 of their header crcs. */
  liveSlots: number;
  liveSum: number;
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
  v.setUint32(SB_LIVE_SLOTS, f.liveSlots, true);
  v.setUint32(SB_LIVE_SUM, f.liveSum, true);
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
  const liveSlots = v.getUint32(SB_LIVE_SLOTS, true);
  const liveSum = v.getUint32(SB_LIVE_SUM, true);
  if (
    pageCount < 1 || pageCount > IMAGE_PAGES_MAX || !Number.isSafeInteger(epoch) ||
    !Number.isFinite(createdAtMs) || rootLength > ROOT_BYTES_MAX || liveSlots > pageCount
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
  const fields = { pageCount, epoch, createdAtMs, liveSlots, liveSum, root };
  return { hasMagic, version, crcOk, problem: "", fields };
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
  /** Slots (2p + s) written by the current checkpoint. */
  readonly #written = new Set<number>();
  /** Data and header runs written so far in the current checkpoint (the fault hook's index). */
  #runCount = { data: 0, header: 0 };
  /**
   * Pages with a committed version and the sum of their header crcs, over the
   * chunks read so far (all of them, from the first commit on); the opened
   * superblock's figures, which they must equal once every chunk is read.
   */
  #liveSlots = 0;
  #liveSum = 0;
  readonly #sealSlots: number;
  readonly #sealSum: number;
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
    this.#sealSlots = s.fields.liveSlots;
    this.#sealSum = s.fields.liveSum;
    if (s.headersLoaded) {
      this.#liveSlots = s.fields.liveSlots;
      this.#liveSum = s.fields.liveSum;
    }
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
      liveSlots: 0,
      liveSum: 0,
      root: new Uint8Array(0),
    };
    const file = Deno.openSync(path, { read: true, write: true, create: true });
    try {
      lockImage(file, path); // before the truncation: a running machine's image stays whole
      file.truncateSync(0);
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
   * scrubbed then. Throws E_IMAGE_BUSY (another open image holds the file's
   * lock), E_IMAGE_TRUNCATED, E_IMAGE_NOT_TARDIGRADE, E_IMAGE_VERSION or
   * E_IMAGE_CORRUPT, and then has not modified the file.
   */
  static open(path: string, opts: ImageOptions = {}): NvmImage {
    const file = Deno.openSync(path, { read: true, write: true });
    try {
      lockImage(file, path);
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
    this.writePages(epoch, [{ page, data }]);
  }

  /**
   * Writes several pages of checkpoint `epoch` (a page listed twice ends with
   * its last data). Checks every argument before writing anything; adjacent
   * slots go out in one write, then nearby headers in one write. The fault
   * hook sees each of those writes. E_IMAGE_IO if the OS fails a write.
   */
  writePages(epoch: number, pages: Array<{ page: number; data: Uint8Array }>): void {
    this.#live();
    this.#checkEpoch(epoch, "writePages");
    const last = new Map<number, Uint8Array>();
    for (const { page, data } of pages) {
      this.#checkPage(page, "writePages");
      this.#checkBuffer(data, PAGE_BYTES, `writePages: data of page ${page}`);
      last.set(page, data);
    }
    this.#guard("writePages", () => this.#writeCoalesced(epoch, last));
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
    const file = this.#live();
    this.#checkEpoch(epoch, "commit");
    if (!(root instanceof Uint8Array) || root.length > ROOT_BYTES_MAX) {
      throw badArgument(`commit: root must be a Uint8Array of at most ${ROOT_BYTES_MAX} bytes`, {
        length: root instanceof Uint8Array ? root.length : -1,
      });
    }
    // A slot the crashed checkpoint wrote with this epoch would turn valid with this commit.
    this.loadSlotHeaders();
    const rootCopy = root.slice();
    const live = this.#liveAfterCommit();
    const sb = encodeSuperblock({
      pageCount: this.pageCount,
      epoch,
      createdAtMs: this.#createdAtMs,
      liveSlots: live.slots,
      liveSum: live.sum,
      root: rootCopy,
    });
    const at = (epoch % 2) * SUPERBLOCK_BYTES;
    this.#guard("commit", () => {
      this.#verifyWritten(epoch);
      if (this.#fsync) file.syncDataSync();
      this.#put("superblock", at, sb, SUPERBLOCK_BYTES, epoch);
      const back = this.#scratchBytes(SUPERBLOCK_BYTES);
      readFull(file, at, back, this.path);
      if (!back.every((b, i) => b === sb[i])) {
        throw this.#notWritten(`superblock ${epoch % 2}`, epoch);
      }
      if (this.#fsync) file.syncDataSync();
      this.#epoch = epoch;
      this.#root = rootCopy;
      this.#liveSlots = live.slots;
      this.#liveSum = live.sum;
      this.#written.clear();
      this.#runCount = { data: 0, header: 0 };
    });
  }

  /** Closes the file (and so drops its lock); later calls throw E_NOT_READY. Closing twice is harmless. */
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
   * E_IMAGE_CORRUPT if the committed headers disagree with the superblock.
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
   * no chunk holds a slot this session wrote. The last chunk read checks the
   * committed headers against the superblock (#checkLive).
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
      if (headerCrcOf(headers, i) !== crc) continue; // torn, or another slot's header
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
    const file = this.#live();
    const from = first * SLOT_HEADER_BYTES;
    const to = (last + 1) * SLOT_HEADER_BYTES;
    writeFull(file, HEADER_TABLE_OFFSET + from, this.#headers.subarray(from, to));
    if (this.#fsync) file.syncSync();
    this.#discarded += count;
    const line = `discarded ${this.#discarded} page slot(s) written after epoch ${this.#epoch} ` +
      `by a checkpoint that never committed`;
    if (this.#discardedLine < 0) this.#discardedLine = this.openReport.push(line) - 1;
    else this.openReport[this.#discardedLine] = line;
  }

  /**
   * With every header read: the committed versions found must be the ones the
   * superblock counted. A committed header that never reached the device (an
   * older one left in place) would otherwise read as an older version of its
   * page: E_IMAGE_CORRUPT, and the image is closed.
   */
  #checkLive(): void {
    if (this.#liveSlots === this.#sealSlots && this.#liveSum === this.#sealSum) return;
    const e = new TardigradeError(
      Err.E_IMAGE_CORRUPT,
      `${this.path}: checkpoint ${this.#epoch} committed ${this.#sealSlots} page versions ` +
        `(header crc sum 0x${this.#sealSum.toString(16)}), but the slot headers hold ` +
        `${this.#liveSlots} (sum 0x${this.#liveSum.toString(16)}): a slot header write of a ` +
        `committed checkpoint was lost or went elsewhere, and some page would read an older ` +
        `version. Restore the image from a backup, or ${FRESH_HINT}`,
      { path: this.path, epoch: this.#epoch, liveSlots: this.#liveSlots },
    );
    this.#dead = e.message;
    this.#file?.close();
    this.#file = undefined;
    throw e;
  }

  /** The live figures the superblock of the checkpoint being committed records. */
  #liveAfterCommit(): { slots: number; sum: number } {
    let slots = this.#liveSlots;
    let sum = this.#liveSum;
    for (const idx of this.#written) {
      const old = this.#committedSlot(idx >> 1); // the written slot is not committed yet
      if (old >= 0) {
        slots--;
        sum -= this.#crcOfSlot(2 * (idx >> 1) + old);
      }
      slots++;
      sum += this.#crcOfSlot(idx);
    }
    return { slots, sum: sum >>> 0 };
  }

  /** The stored headerCrc of slot `idx` (its header as in memory). */
  #crcOfSlot(idx: number): number {
    return this.#headerView.getUint32(idx * SLOT_HEADER_BYTES + SLOT_HEADER_CRC_SPAN, true);
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
   * Runs a step that writes to the file. Any exception (a power failure, a
   * torn write, an I/O error, a failed read-back) leaves the file in an
   * unknown state, so the object dies: the file is closed and later calls
   * fail. An OS error is rethrown as E_IMAGE_IO naming it.
   */
  #guard(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#dead = `${what} was interrupted (${e instanceof Error ? e.message : String(e)})`;
      const file = this.#file;
      this.#file = undefined;
      file?.close();
      if (e instanceof PowerFailure || e instanceof TardigradeError || !(e instanceof Error)) {
        throw e;
      }
      throw ioError(this.path, what, e);
    }
  }

  /**
   * One write of `bytes` at `at`, of kind `kind`, in whole `unit`s, through
   * the fault hook: the one place a checkpoint's bytes reach the file.
   */
  #put(kind: WriteKind, at: number, bytes: Uint8Array, unit: number, epoch: number): void {
    const file = this.#file!;
    const index = kind === "superblock" ? 0 : this.#runCount[kind]++;
    const fault = this.#hook?.(kind, index, epoch) ?? undefined;
    const where = `${kind} write #${index} of epoch ${epoch}`;
    switch (fault) {
      case undefined:
        return writeFull(file, at, bytes);
      case "before":
        throw new PowerFailure(`power failed before ${where}`);
      case "torn":
        writeFull(file, at, bytes.subarray(0, tornLength(bytes.length, unit)));
        throw new PowerFailure(`power failed partway through ${where}`);
      case "lost":
        return; // acknowledged, never written
      case "after":
        writeFull(file, at, bytes);
        throw new PowerFailure(`power failed right after ${where}`);
      case "eio":
        throw Object.assign(new Error("Input/output error (os error 5)"), { code: "EIO" });
    }
  }

  /** Writes distinct pages: data runs of adjacent slots, then header runs. */
  #writeCoalesced(epoch: number, pages: Map<number, Uint8Array>): void {
    const slots = new Map<number, Uint8Array>();
    for (const [page, data] of pages) slots.set(2 * page + this.#targetSlot(page), data);
    const order = [...slots.keys()].sort((a, b) => a - b);
    for (const [i, j] of runsOf(order, 1, RUN_SLOTS_MAX)) {
      const at = this.#dataOffset + order[i] * PAGE_BYTES;
      let buf = slots.get(order[i])!;
      if (j > i + 1) {
        buf = this.#scratchBytes((j - i) * PAGE_BYTES);
        for (let k = i; k < j; k++) buf.set(slots.get(order[k])!, (k - i) * PAGE_BYTES);
      }
      this.#put("data", at, buf, PAGE_BYTES, epoch);
    }
    for (const idx of order) {
      this.#setHeader(idx, epoch, crc32(slots.get(idx)!));
      this.#slotEpoch[idx] = epoch;
      this.#written.add(idx);
    }
    const gap = HEADER_GAP_MERGE_BYTES / SLOT_HEADER_BYTES;
    for (const [i, j] of runsOf(order, gap, Infinity)) {
      const from = order[i] * SLOT_HEADER_BYTES;
      const to = (order[j - 1] + 1) * SLOT_HEADER_BYTES;
      this.#put("header", HEADER_TABLE_OFFSET + from, this.#headers.subarray(from, to), 16, epoch);
    }
  }

  /**
   * Reads back every slot and header this checkpoint wrote: each slot's data
   * must match its header's crc and each header its bytes in memory.
   * E_IMAGE_IO (not committed) names the first that does not.
   */
  #verifyWritten(epoch: number): void {
    const file = this.#file!;
    const order = [...this.#written].sort((a, b) => a - b);
    for (const [i, j] of runsOf(order, 1, RUN_SLOTS_MAX)) {
      const buf = this.#scratchBytes((j - i) * PAGE_BYTES);
      readFull(file, this.#dataOffset + order[i] * PAGE_BYTES, buf, this.path);
      for (let k = i; k < j; k++) {
        const data = buf.subarray((k - i) * PAGE_BYTES, (k - i + 1) * PAGE_BYTES);
        const want = this.#headerView.getUint32(order[k] * SLOT_HEADER_BYTES + 8, true);
        if (crc32(data) !== want) throw this.#notWritten(`data of ${slotName(order[k])}`, epoch);
      }
    }
    const back = new Uint8Array(SLOT_HEADER_BYTES);
    for (const idx of order) {
      const off = idx * SLOT_HEADER_BYTES;
      readFull(file, HEADER_TABLE_OFFSET + off, back, this.path);
      const want = this.#headers.subarray(off, off + SLOT_HEADER_BYTES);
      if (!back.every((b, k) => b === want[k])) {
        throw this.#notWritten(`header of ${slotName(idx)}`, epoch);
      }
    }
  }

  /** E_IMAGE_IO: what a checkpoint wrote is not what the file holds. */
  #notWritten(what: string, epoch: number): TardigradeError {
    return new TardigradeError(
      Err.E_IMAGE_IO,
      `${this.path}: the ${what} written by checkpoint ${epoch} reads back different (the ` +
        `write was lost, torn or went elsewhere), so checkpoint ${epoch} was not committed and ` +
        `the image still holds epoch ${this.#epoch}. Check the disk, then boot again to resume`,
      { path: this.path, epoch },
    );
  }

  /** Fills the in-memory header of slot `idx` (not yet written to disk). */
  #setHeader(idx: number, epoch: number, dataCrc: number): void {
    const off = idx * SLOT_HEADER_BYTES;
    const v = this.#headerView;
    v.setBigUint64(off, BigInt(epoch), true);
    v.setUint32(off + 8, dataCrc, true);
    v.setUint32(off + SLOT_HEADER_CRC_SPAN, headerCrcOf(this.#headers, idx), true);
  }

  /** The slot of `page` holding its newest committed version, or -1 if none. */
  #committedSlot(page: number): number {
    this.#loadChunk((2 * page) / CHUNK_SLOTS | 0);
    return this.#newestSlot(page);
  }

  /** As {@link #committedSlot}, for a page whose chunk is loaded. */
  #newestSlot(page: number): number {
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
