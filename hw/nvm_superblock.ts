/**
 * The superblock of an NVM image: its encoding (hw/nvm_layout.ts has the
 * byte map), its decoding with the reason a slot is not valid, and the
 * choice at open between the two slots.
 *
 * - {@link encodeSuperblock}: the 4096 bytes of a committed state, crc included.
 * - {@link decodeSuperblock}: one slot's fields, or why it is not valid.
 * - {@link chooseSuperblock}: the valid slot with the highest epoch, or the
 *   error that says why the file cannot be opened; its parts
 *   ({@link decodeSuperblocks}, {@link newestValidSlot}, {@link notAnImage},
 *   {@link noValidSuperblock}) serve the read-only inspector too.
 *
 * @module
 */

import { assert, Err, TardigradeError } from "../kernel/abi/errors.ts";
import { crc32 } from "./crc32.ts";
import {
  FRESH_HINT,
  HEADER_TABLE_OFFSET,
  IMAGE_FORMAT_VERSION,
  IMAGE_PAGES_MAX,
  readEpoch,
  ROOT_BYTES_MAX,
  SUPERBLOCK_BYTES,
} from "./nvm_layout.ts";

const MAGIC = "TRDGRADE";
const MAGIC_BYTES = new TextEncoder().encode(MAGIC);
const SB_VERSION = 8;
const SB_PAGE_COUNT = 12;
const SB_EPOCH = 16;
const SB_CREATED = 24;
const SB_LIVE_SLOTS = 32;
const SB_LIVE_SUM = 36;
const SB_ROOT_LENGTH = 40;
const SB_ROOT = 44;
const SB_CRC = SUPERBLOCK_BYTES - 4;

assert(SB_ROOT + ROOT_BYTES_MAX <= SB_CRC, "nvm_superblock", "root must fit in the superblock");

/** The fields of a committed state, as a superblock stores them. */
export interface SuperblockFields {
  pageCount: number;
  epoch: number;
  createdAtMs: number;
  /** Pages with a committed version at `epoch`, and the sum mod 2^32 of their header crcs. */
  liveSlots: number;
  liveSum: number;
  root: Uint8Array;
}

/** What one superblock slot holds; `fields` is set only when the slot is valid. */
export interface SuperblockSlot {
  hasMagic: boolean;
  /** Its formatVersion field (0 if the slot is cut short). */
  version: number;
  /** Whether its crc matches bytes [0, 4092). */
  crcOk: boolean;
  /** Why the slot is not valid, for messages; "" when valid. */
  problem: string;
  fields?: SuperblockFields;
}

/** Builds the 4096 bytes of a superblock, crc included. */
export function encodeSuperblock(f: SuperblockFields): Uint8Array {
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

/** Decodes one superblock slot from `b` (shorter than 4096 bytes if the file is). */
export function decodeSuperblock(b: Uint8Array): SuperblockSlot {
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
  const epoch = readEpoch(v, SB_EPOCH);
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

/**
 * Picks the committed state of the file at `path` (`size` bytes) from its
 * first bytes `head` (the two superblocks, or less if the file is shorter):
 * the valid slot with the highest epoch, and a report line if the other slot
 * is damaged. Throws E_IMAGE_NOT_TARDIGRADE, E_IMAGE_TRUNCATED,
 * E_IMAGE_VERSION or E_IMAGE_CORRUPT when no slot is valid.
 */
export function chooseSuperblock(
  path: string,
  size: number,
  head: Uint8Array,
): { fields: SuperblockFields; report: string[] } {
  const slots = decodeSuperblocks(head);
  if (!slots[0].hasMagic && !slots[1].hasMagic) throw notAnImage(path, size);
  if (size < HEADER_TABLE_OFFSET) {
    throw new TardigradeError(
      Err.E_IMAGE_TRUNCATED,
      `${path} is ${size} bytes, shorter than its two superblocks (${HEADER_TABLE_OFFSET} ` +
        `bytes): the file was cut short. Restore it from a backup, or ${FRESH_HINT}`,
      { path, size },
    );
  }
  const best = newestValidSlot(slots);
  if (best < 0) throw noValidSuperblock(path, slots);
  const fields = slots[best].fields!;
  const report: string[] = [];
  const other = 1 - best;
  if (!slots[other].fields && (slots[other].hasMagic || fields.epoch > 0)) {
    report.push(
      `superblock ${other} ${slots[other].problem}; using epoch ${fields.epoch} from ` +
        `superblock ${best}`,
    );
  }
  return { fields, report };
}

/** Both superblock slots decoded from the file's first bytes `head` (shorter if the file is). */
export function decodeSuperblocks(head: Uint8Array): SuperblockSlot[] {
  return [
    decodeSuperblock(head.subarray(0, SUPERBLOCK_BYTES)),
    decodeSuperblock(head.subarray(SUPERBLOCK_BYTES)),
  ];
}

/** The valid slot with the highest epoch (slot 0 on a tie), or -1 when neither is valid. */
export function newestValidSlot(slots: SuperblockSlot[]): number {
  const [a, b] = [slots[0].fields, slots[1].fields];
  if (a && b) return b.epoch > a.epoch ? 1 : 0;
  return a ? 0 : b ? 1 : -1;
}

/** E_IMAGE_NOT_TARDIGRADE for the file at `path` of `size` bytes: no superblock has the magic. */
export function notAnImage(path: string, size: number): TardigradeError {
  return new TardigradeError(
    Err.E_IMAGE_NOT_TARDIGRADE,
    `${path} (${size} bytes) is not a Tardigrade image: neither superblock (at bytes 0 and ` +
      `4096) starts with "${MAGIC}". Check the image path, or ${FRESH_HINT}`,
    { path, size },
  );
}

/** E_IMAGE_VERSION if a checksummed slot names another format version, else E_IMAGE_CORRUPT. */
export function noValidSuperblock(path: string, slots: SuperblockSlot[]): TardigradeError {
  const why = `superblock 0 ${slots[0].problem}, superblock 1 ${slots[1].problem}`;
  // Only a checksummed superblock is trusted to name a format version.
  const versioned = slots.find((s) => s.crcOk && s.version !== IMAGE_FORMAT_VERSION);
  if (versioned) {
    return new TardigradeError(
      Err.E_IMAGE_VERSION,
      `${path} has image format version ${versioned.version}, but this build reads only ` +
        `version ${IMAGE_FORMAT_VERSION} (${why}). Open it with the build that wrote it, ` +
        `or ${FRESH_HINT}`,
      { path, version: versioned.version },
    );
  }
  return new TardigradeError(
    Err.E_IMAGE_CORRUPT,
    `${path} is a damaged Tardigrade image: no superblock is valid (${why}). Restore it ` +
      `from a backup, or ${FRESH_HINT}`,
    { path },
  );
}
