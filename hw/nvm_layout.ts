/**
 * The NVM image's layout: where each region of the file lies, what each crc
 * covers, and the limits of the format. The modules of the image
 * (hw/nvm_superblock.ts, hw/nvm_slots.ts, hw/nvm_writer.ts,
 * hw/nvm_image.ts) take every offset and size from here.
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
 *   total = 8192 + H + P × 8192 bytes        (see imageLayout)
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
 * A slot is named by its index 2p + s (page p, slot s ∈ {0, 1}) throughout.
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

/** Bytes of one superblock slot; the two slots are at 0 and SUPERBLOCK_BYTES. */
export const SUPERBLOCK_BYTES = 4096;
/** Offset of the slot header table, right after the two superblocks. */
export const HEADER_TABLE_OFFSET = 2 * SUPERBLOCK_BYTES;
/** Bytes of one slot header. */
export const SLOT_HEADER_BYTES = 16;
/** Offset of the dataCrc in a slot header. */
export const SLOT_DATA_CRC = 8;
/** Offset of the headerCrc in a slot header, and the header bytes it covers ([0, 12)). */
export const SLOT_HEADER_CRC_SPAN = 12;
/** Longest run of slots one bulk read or write moves (1 MiB). */
export const RUN_SLOTS_MAX = 256;
/** Header runs closer than this many bytes are merged into one write. */
export const HEADER_GAP_MERGE_BYTES = 256;
/** Slots whose headers are read and checked together, on first use (64 KiB of headers). */
export const CHUNK_SLOTS = 4096;
/** The end of every message about a damaged image: what the user may do about it. */
export const FRESH_HINT = "pass --fresh to format a new image, which destroys this file";

assert(PAGE_BYTES === 4096, "nvm_layout", "the image layout assumes 4096-byte pages");
assert(SLOT_DATA_CRC + 4 === SLOT_HEADER_CRC_SPAN, "nvm_layout", "dataCrc ends the crc span");
assert(SLOT_HEADER_CRC_SPAN + 4 === SLOT_HEADER_BYTES, "nvm_layout", "headerCrc ends a header");

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

/** E_BAD_ARGUMENT with `message` (what was wrong and what is allowed). */
export function badArgument(
  message: string,
  detail: Record<string, string | number | boolean> = {},
): TardigradeError {
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

/** File offset of superblock slot that checkpoint `epoch` writes (`epoch % 2`). */
export function superblockOffset(epoch: number): number {
  return (epoch % 2) * SUPERBLOCK_BYTES;
}

/** Scratch for the slot index that each header crc ends with. */
const SLOT_INDEX_BYTES = new Uint8Array(4);
const SLOT_INDEX_VIEW = new DataView(SLOT_INDEX_BYTES.buffer);

/** The headerCrc of slot `idx` whose header is at `idx × 16` in `headers`: bytes [0, 12), then idx. */
export function headerCrcOf(headers: Uint8Array, idx: number): number {
  const off = idx * SLOT_HEADER_BYTES;
  SLOT_INDEX_VIEW.setUint32(0, idx, true);
  return crc32(SLOT_INDEX_BYTES, crc32(headers.subarray(off, off + SLOT_HEADER_CRC_SPAN)));
}

/** Reads the u64 at `off` as a number; values above 2^53 come back as Infinity. */
export function readEpoch(view: DataView, off: number): number {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  return hi >= 0x200000 ? Infinity : hi * 0x1_0000_0000 + lo;
}

/** "page 5 slot 1" for slot index 11. */
export function slotName(idx: number): string {
  return `page ${idx >> 1} slot ${idx & 1}`;
}
