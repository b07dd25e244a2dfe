/**
 * The image as the inspector reads it: read-only, under a shared lock, never
 * scrubbed. It applies the image's own decoders and recovery rules
 * (hw/nvm_superblock.ts, hw/nvm_slots.ts `slotHeaderEpoch` and
 * `newestCommittedSlot`) to the bytes it reads, and verifies every checksum
 * on the way.
 *
 * Map of this file:
 * - {@link ImageProblem}, {@link ImageDamaged}: what is wrong and where.
 * - {@link openImage}: the file, both superblocks, the committed root, the
 *   slot header table and what it says; E_IMAGE_BUSY, E_IMAGE_NOT_TARDIGRADE,
 *   E_IMAGE_VERSION and a missing file are thrown; a damaged image is
 *   returned with its problems.
 * - {@link InspectedImage.readPages}: pages at the committed epoch, each
 *   slot's data crc checked (ImageDamaged when one fails).
 * - {@link verifySlots}: the data crc of every slot a header names: the
 *   committed versions (a failure is damage), and the leftovers of a torn
 *   checkpoint (reported).
 *
 * @module
 */

import { Err } from "../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import { crc32 } from "../../hw/crc32.ts";
import { ImageFile } from "../../hw/nvm_file.ts";
import {
  HEADER_TABLE_OFFSET,
  type ImageLayout,
  imageLayout,
  SLOT_DATA_CRC,
  SLOT_HEADER_BYTES,
  SLOT_HEADER_CRC_SPAN,
  slotName,
} from "../../hw/nvm_layout.ts";
import { newestCommittedSlot, slotHeaderEpoch } from "../../hw/nvm_slots.ts";
import {
  decodeSuperblocks,
  newestValidSlot,
  notAnImage,
  noValidSuperblock,
  type SuperblockFields,
} from "../../hw/nvm_superblock.ts";

/** One thing wrong with the image: where (a region, a page and slot, a record) and what. */
export interface ImageProblem {
  where: string;
  what: string;
}

/** Thrown by a read that met damage; the problem says where. */
export class ImageDamaged extends Error {
  constructor(readonly problem: ImageProblem) {
    super(`${problem.where}: ${problem.what}`);
  }
}

/** One superblock slot as read. */
export interface SuperblockReport {
  slot: number;
  /** "" when valid, else why not (decodeSuperblock's words). */
  problem: string;
  epoch?: number;
  liveSlots?: number;
  liveSum?: number;
  rootBytes?: number;
}

/** What the slot header table holds, against the committed epoch. */
export interface SlotSummary {
  /** Pages with a committed version (the superblock's liveSlots must equal it). */
  livePages: number;
  liveSum: number;
  /** Slots holding an older committed version (kept until overwritten). */
  olderVersions: number;
  /** Slots whose header names an epoch past the committed one: an uncommitted checkpoint's. */
  uncommitted: number[];
  /** Slots whose header is neither zero nor valid (torn, damaged, or another slot's). */
  badHeaders: number[];
}

/** An image opened for inspection: what it says about itself, and reads at its committed epoch. */
export class InspectedImage {
  /** Set when a superblock was valid. */
  fields?: SuperblockFields;
  layout?: ImageLayout;
  slots?: SlotSummary;
  /** The committed slot of each page (-1: never written). */
  committed?: Int8Array;
  /** The whole slot header table, as read. */
  headers?: Uint8Array;
  /** What is wrong (empty: the image is sound so far). */
  readonly problems: ImageProblem[] = [];
  /** What a torn checkpoint left and recovery ignores; not damage. */
  readonly leftovers: string[] = [];
  readonly #file: ImageFile;

  constructor(
    file: ImageFile,
    readonly fileBytes: number,
    /** Which superblock slot holds the committed state (-1: none). */
    readonly chosen: number,
    readonly superblocks: SuperblockReport[],
  ) {
    this.#file = file;
  }

  /** The image file's path. */
  get path(): string {
    return this.#file.path;
  }

  /** Reads `buf.length` bytes of the file at `pos` (E_IMAGE_TRUNCATED past its end). */
  readRaw(pos: number, buf: Uint8Array): void {
    this.#file.read(pos, buf);
  }

  /**
   * Pages `first .. first+count-1` at the committed epoch (never-written
   * pages are zeros), each slot's data crc checked: ImageDamaged naming the
   * page and slot when one fails, or when the image has no trusted state.
   */
  readPages(first: number, count: number): Uint8Array {
    const committed = this.committed;
    if (!committed || this.problems.some((p) => p.where === "slot headers")) {
      throw new ImageDamaged({
        where: "image",
        what: "its slot headers do not match its superblock: no page can be trusted",
      });
    }
    if (first < 0 || first + count > committed.length) {
      throw new ImageDamaged({
        where: `pages ${first}..${first + count - 1}`,
        what: `outside the image's ${committed.length} pages (a record names them)`,
      });
    }
    const out = new Uint8Array(count * PAGE_BYTES);
    for (let p = first; p < first + count; p++) {
      const s = committed[p];
      if (s < 0) continue;
      const dst = out.subarray((p - first) * PAGE_BYTES, (p - first + 1) * PAGE_BYTES);
      const problem = this.readSlot(2 * p + s, dst);
      if (problem) throw new ImageDamaged({ where: slotName(2 * p + s), what: problem });
    }
    return out;
  }

  /** Reads slot `idx` into `out`; "" when its data matches its header's crc, else what differs. */
  readSlot(idx: number, out: Uint8Array): string {
    this.#file.read(this.layout!.dataOffset + idx * PAGE_BYTES, out);
    const stored = new DataView(this.headers!.buffer).getUint32(
      idx * SLOT_HEADER_BYTES + SLOT_DATA_CRC,
      true,
    );
    const actual = crc32(out);
    if (stored === actual) return "";
    return `data crc wrong (its header says 0x${stored.toString(16)}, the data's is 0x${
      actual.toString(16)
    })`;
  }

  /** Closes the file and drops the shared lock. */
  close(): void {
    this.#file.close();
  }
}

/**
 * Opens `path` read-only under a shared lock and reads what the image says
 * about itself. Throws E_IMAGE_BUSY (a machine holds it), E_IMAGE_NOT_TARDIGRADE,
 * E_IMAGE_VERSION, or the OS error of a missing or unreadable file; any other
 * damage is in `problems`.
 */
export function openImage(path: string): InspectedImage {
  const file = ImageFile.openReadOnly(path);
  try {
    return readImage(file);
  } catch (e) {
    file.close();
    throw e;
  }
}

function readImage(file: ImageFile): InspectedImage {
  const path = file.path;
  const fileBytes = file.size();
  const head = new Uint8Array(Math.min(fileBytes, HEADER_TABLE_OFFSET));
  file.read(0, head);
  const decoded = decodeSuperblocks(head);
  if (!decoded[0].hasMagic && !decoded[1].hasMagic) throw notAnImage(path, fileBytes);
  const chosen = newestValidSlot(decoded);
  if (chosen < 0) {
    const e = noValidSuperblock(path, decoded);
    if (e.code === Err.E_IMAGE_VERSION) throw e; // another build's image: not damage
  }
  const superblocks: SuperblockReport[] = decoded.map((d, slot) => ({
    slot,
    problem: d.problem,
    ...(d.fields
      ? {
        epoch: d.fields.epoch,
        liveSlots: d.fields.liveSlots,
        liveSum: d.fields.liveSum,
        rootBytes: d.fields.root.length,
      }
      : {}),
  }));
  const image = new InspectedImage(file, fileBytes, chosen, superblocks);
  superblockProblems(image);
  if (chosen < 0) return image;
  const fields = decoded[chosen].fields!;
  image.fields = fields;
  const layout = imageLayout(fields.pageCount);
  image.layout = layout;
  if (fileBytes < layout.totalBytes) {
    image.problems.push({
      where: "file",
      what: `is ${fileBytes} bytes, but its superblock (${fields.pageCount} pages) needs ` +
        `${layout.totalBytes}: it was cut short`,
    });
    return image;
  }
  if (fileBytes > layout.totalBytes) {
    image.leftovers.push(`${fileBytes - layout.totalBytes} bytes past the image's end (ignored)`);
  }
  readSlots(image, fields, layout);
  return image;
}

/** Superblock problems: an invalid slot is damage unless the image never wrote it. */
function superblockProblems(image: InspectedImage): void {
  const best = image.chosen < 0 ? undefined : image.superblocks[image.chosen];
  for (const sb of image.superblocks) {
    if (sb.problem === "") continue;
    // Superblock 1 of an image at epoch 0 was never written: all zeros, no magic.
    if (best?.epoch === 0 && sb.slot === 1 && /magic/.test(sb.problem)) continue;
    image.problems.push({ where: `superblock ${sb.slot}`, what: sb.problem });
  }
}

/** Reads the slot header table and checks it against the superblock (the live check). */
function readSlots(image: InspectedImage, fields: SuperblockFields, layout: ImageLayout): void {
  const headers = new Uint8Array(layout.headerTableBytes);
  image.readRaw(HEADER_TABLE_OFFSET, headers);
  const view = new DataView(headers.buffer);
  const words = new Int32Array(headers.buffer);
  const pages = fields.pageCount;
  const epochs = new Float64Array(2 * pages);
  const summary: SlotSummary = {
    livePages: 0,
    liveSum: 0,
    olderVersions: 0,
    uncommitted: [],
    badHeaders: [],
  };
  for (let i = 0; i < 2 * pages; i++) {
    const w = i * (SLOT_HEADER_BYTES >> 2);
    if ((words[w] | words[w + 1] | words[w + 2] | words[w + 3]) === 0) continue;
    const e = slotHeaderEpoch(headers, view, i);
    if (e < 0) summary.badHeaders.push(i);
    else if (e > fields.epoch || e === 0) summary.uncommitted.push(i);
    else epochs[i] = e;
  }
  const committed = new Int8Array(pages);
  for (let p = 0; p < pages; p++) {
    const s = newestCommittedSlot(epochs[2 * p], epochs[2 * p + 1], fields.epoch);
    committed[p] = s;
    if (s < 0) continue;
    if (epochs[2 * p + 1 - s] > 0) summary.olderVersions++;
    summary.livePages++;
    const crc = view.getUint32((2 * p + s) * SLOT_HEADER_BYTES + SLOT_HEADER_CRC_SPAN, true);
    summary.liveSum = (summary.liveSum + crc) >>> 0;
  }
  image.slots = summary;
  image.committed = committed;
  image.headers = headers;
  liveCheck(image, fields, summary);
}

/** The live check: committed versions found vs the superblock's count; bad headers named. */
function liveCheck(image: InspectedImage, fields: SuperblockFields, s: SlotSummary): void {
  const ok = s.livePages === fields.liveSlots && s.liveSum === fields.liveSum;
  const bad = s.badHeaders.map(slotName);
  if (!ok) {
    image.problems.push({
      where: "slot headers",
      what: `live check mismatch: superblock ${image.chosen} (epoch ${fields.epoch}) counts ` +
        `${fields.liveSlots} committed page versions (crc sum 0x${fields.liveSum.toString(16)}), ` +
        `the headers hold ${s.livePages} (sum 0x${s.liveSum.toString(16)}): a committed ` +
        `header is lost or damaged` + (bad.length > 0 ? `; bad headers at ${list(bad)}` : ""),
    });
  } else if (bad.length > 0) {
    image.leftovers.push(
      `${bad.length} slot header(s) with a bad crc, ignored by recovery (a torn header write ` +
        `of a checkpoint that never committed): ${list(bad)}`,
    );
  }
  if (s.uncommitted.length > 0) {
    image.leftovers.push(
      `${s.uncommitted.length} slot(s) written after epoch ${fields.epoch} by a checkpoint ` +
        `that never committed (the next boot scrubs them): ${list(s.uncommitted.map(slotName))}`,
    );
  }
}

/**
 * Checks the data crc of every slot a valid header names: a committed
 * version that fails is damage (in `problems`); an uncommitted or older
 * slot that fails is what a torn checkpoint's data write left (in
 * `leftovers`). Returns how many slots it read.
 */
export function verifySlots(image: InspectedImage): number {
  const slots = image.slots;
  if (!slots || !image.fields || !image.headers || !image.committed) return 0;
  const words = new Int32Array(image.headers.buffer);
  const bad = new Set(slots.badHeaders);
  const buf = new Uint8Array(PAGE_BYTES);
  const torn: number[] = [];
  let read = 0;
  for (let idx = 0; idx < 2 * image.fields.pageCount; idx++) {
    const w = idx * (SLOT_HEADER_BYTES >> 2);
    if ((words[w] | words[w + 1] | words[w + 2] | words[w + 3]) === 0 || bad.has(idx)) continue;
    const problem = image.readSlot(idx, buf);
    read++;
    if (problem === "") continue;
    if (image.committed[idx >> 1] === (idx & 1)) {
      image.problems.push({
        where: slotName(idx),
        what: `${problem}: the page's committed version is damaged`,
      });
    } else torn.push(idx);
  }
  if (torn.length > 0) {
    image.leftovers.push(
      `${torn.length} slot(s) not in use whose data does not match their header (an ` +
        `uncommitted checkpoint's data write): ${list(torn.map(slotName))}`,
    );
  }
  return read;
}

/** The first `max` of `items`, joined, and how many more there are. */
export function list(items: string[], max = 8): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
