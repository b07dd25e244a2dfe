/**
 * The object heap's persistent layout, declared once: constants, size
 * classes, ref encoding, the words of the header, object-table entries,
 * page descriptors, owner records and name entries, the option and count
 * types, and {@link formatHeap}, which lays a fresh heap over a PMO. The
 * heap itself is servers/memory/objects.ts; the map of the PMO is there.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { LLFree } from "../llfree.ts";

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/** "TgOH": marks a formatted object heap. */
export const HEAP_MAGIC = 0x54674f48;
/** Heap format version. */
export const HEAP_VERSION = 1;
/** Largest object in bytes. */
export const OBJECT_BYTES_MAX = 64 * 1024;
/** Largest object served from a slab; larger ones get whole pages. */
export const SMALL_OBJECT_BYTES_MAX = 2048;
/** Longest name in UTF-8 bytes. */
export const NAME_BYTES_MAX = 64;
/** Bytes of an encoded persistent pointer. */
export const POINTER_BYTES = 24;
/** Bytes of an object id. */
export const OBJECT_ID_BYTES = 16;

/** Slab size classes in bytes. */
export const SIZE_CLASSES: readonly number[] = [
  16,
  32,
  48,
  64,
  80,
  96,
  112,
  128,
  160,
  192,
  256,
  320,
  512,
  768,
  1024,
  2048,
];
/** Number of size classes. */
export const CLASS_COUNT = 16;
/** Bytes per object, per class. */
export const CLASS_SIZE = new Int32Array(SIZE_CLASSES);
/** Objects per slab page, per class. */
export const CLASS_CAP = new Int32Array(SIZE_CLASSES.map((s) => Math.floor(PAGE_BYTES / s)));
/** Bitmap words of a slab, per class. */
export const CLASS_WORDS = new Int32Array(SIZE_CLASSES.map((s) => Math.ceil(PAGE_BYTES / s / 32)));
/** CLASS_OF[(size + 15) >> 4] is the class of a small size. */
export const CLASS_OF = new Uint8Array(SMALL_OBJECT_BYTES_MAX / 16 + 1);
for (let i = 1, c = 0; i < CLASS_OF.length; i++) {
  while (CLASS_SIZE[c] < i * 16) c++;
  CLASS_OF[i] = c;
}

/** Refs: slot in the low 28 bits, the low 25 bits of the generation above. */
export const SLOT_SCALE = 2 ** 28;
/** Generation bits kept in a ref. */
export const REF_GEN_MASK = 2 ** 25 - 1;
/** Most object slots a heap can have. */
export const OBJECTS_MAX = SLOT_SCALE - 1;

/** Header words (page 0). */
export enum HeapWord {
  MAGIC = 0,
  VERSION = 1,
  /** Writer lock: 0 free, else holder's worker index + 1. */
  LOCK = 2,
  INSTANCE0 = 4,
  INSTANCE1 = 5,
  /** Object table slots. */
  MAX_OBJECTS = 6,
  /** Slots ever used; slots >= HIGH_WATER were never handed out. */
  HIGH_WATER = 7,
  /** First free slot below HIGH_WATER, plus 1 (0: none). */
  FREE_SLOT = 8,
  NAME_CAPACITY = 10,
  NAME_COUNT = 11,
  NAME_TOMBSTONES = 12,
  OWNER_CAPACITY = 13,
  OWNER_COUNT = 14,
  LLFREE_BYTE = 15,
  OWNERS_BYTE = 16,
  NAMES_BYTE = 17,
  TABLE_BYTE = 18,
  DESC_BYTE = 19,
  DATA_BYTE = 20,
  DATA_PAGES = 21,
  MAX_OBJECT_BYTES = 22,
}

/** Words of an object-table entry. */
export enum Entry {
  /** Generation: bumped at every free. */
  GEN = 0,
  /** Size in bytes; 0 while the slot is free. Written last when allocating. */
  SIZE = 1,
  /** Byte offset of the data in the PMO. */
  ADDR = 2,
  /** Live: name-table index + 1 of its name (0: anonymous). Free: next free slot + 1. */
  AUX = 3,
  WORDS = 4,
}

/** Words of a page descriptor. */
export enum Desc {
  /** {@link PageKind}. Written last when a page is taken. */
  KIND = 0,
  /** Slab: size class; large head: pages in the run; tail: head page. */
  CLASS = 1,
  /** Owner record index. */
  OWNER = 2,
  /** Large head: 1 while its object exists (slabs count set bitmap bits instead). */
  LIVE = 3,
  /** Partial-list links, page + 1. */
  NEXT = 4,
  PREV = 5,
  /** {@link DescFlag}. */
  FLAGS = 6,
  /** Slab bitmap: up to 8 words (256 objects of 16 bytes). */
  BITMAP = 8,
  WORDS = 16,
}

/** What a data page holds. */
export enum PageKind {
  FREE = 0,
  SLAB = 1,
  LARGE = 2,
  LARGE_TAIL = 3,
}

/** Flags of a slab's descriptor. */
export enum DescFlag {
  /** On its owner's partial list for its class. */
  LISTED = 1,
  /** Its owner's current slab for its class. */
  CURRENT = 2,
}

/** Words of an owner record. */
export enum Owner {
  /** Owner id + 1; 0: empty record. */
  KEY = 0,
  /** Quota in pages; -1: unlimited. */
  QUOTA = 1,
  /** Pages charged. */
  USED = 2,
  /** Current slab per class, page + 1. */
  CUR = 4,
  /** Head of the partial-slab list per class, page + 1. */
  PARTIAL = 4 + CLASS_COUNT,
  WORDS = 40,
}

/** Words of a name entry. */
export enum Name {
  /** {@link NameState}; USED written last. */
  STATE = 0,
  HASH = 1,
  LEN = 2,
  SLOT = 3,
  GEN = 4,
  /** UTF-8 bytes. */
  BYTES = 8,
  WORDS = 8 + NAME_BYTES_MAX / 4,
}

/** State word of a name entry. */
export enum NameState {
  EMPTY = 0,
  USED = 1,
  TOMBSTONE = 2,
}

/** Options of {@link ObjectHeap.format}. */
export interface HeapOptions {
  /** Object-table slots (default: 16 per PMO page). */
  maxObjects?: number;
  /** Name-table entries, a power of two (default 1024). */
  nameCapacity?: number;
  /** Owner records, a power of two (default 256). */
  ownerCapacity?: number;
}

/** Options of {@link ObjectHeap.attach}. */
export interface AttachOptions {
  /** LLFree worker slot of this handle; each concurrent handle needs its own (default 0). */
  worker?: number;
}

/** Counts from {@link ObjectHeap.stats}. */
export interface HeapStats {
  liveObjects: number;
  names: number;
  owners: number;
  dataPages: number;
  freePages: number;
  slabPages: number;
  largePages: number;
  maxObjects: number;
  highWater: number;
}

/** Throws a TardigradeError `code` for `ObjectHeap.<where>`, with `detail`. */
export function fail(
  code: Err,
  where: string,
  what: string,
  detail: Record<string, number | string> = {},
): never {
  throw new TardigradeError(code, `ObjectHeap.${where}: ${what}`, detail);
}

/** `n` rounded up to a multiple of `a`. */
export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function isPow2(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

/**
 * Formats an empty heap over the whole PMO: checks the options
 * (E_BAD_ARGUMENT), sizes the sections, zeroes them, writes the header and
 * the LLFree metadata, and publishes the magic word last.
 */
export function formatHeap(mem: PersistentMemory, options: HeapOptions): void {
  const totalPages = Math.floor(mem.byteLength / PAGE_BYTES);
  const maxObjects = options.maxObjects ?? Math.min(OBJECTS_MAX, totalPages * 16);
  const nameCapacity = options.nameCapacity ?? 1024;
  const ownerCapacity = options.ownerCapacity ?? 256;
  if (!Number.isInteger(maxObjects) || maxObjects < 1 || maxObjects > OBJECTS_MAX) {
    fail(Err.E_BAD_ARGUMENT, "format", `maxObjects ${maxObjects} must be in [1, ${OBJECTS_MAX}]`);
  }
  if (!isPow2(nameCapacity) || nameCapacity < 2) {
    fail(Err.E_BAD_ARGUMENT, "format", `nameCapacity ${nameCapacity} must be a power of two`);
  }
  if (!isPow2(ownerCapacity) || ownerCapacity < 2) {
    fail(Err.E_BAD_ARGUMENT, "format", `ownerCapacity ${ownerCapacity} must be a power of two`);
  }
  const ownersByte = PAGE_BYTES;
  const namesByte = alignUp(ownersByte + ownerCapacity * Owner.WORDS * 4, PAGE_BYTES);
  const tableByte = alignUp(namesByte + nameCapacity * Name.WORDS * 4, PAGE_BYTES);
  const llfreeByte = alignUp(tableByte + maxObjects * Entry.WORDS * 4, PAGE_BYTES);
  const rest = mem.byteLength - llfreeByte;
  // Each data page costs its 4 KiB, a 64-byte descriptor and a bit of LLFree metadata.
  let dataPages = Math.floor(rest / (PAGE_BYTES + Desc.WORDS * 4));
  const need = (n: number) => {
    const descByte = alignUp(llfreeByte + LLFree.metadataBytes(n), PAGE_BYTES);
    const dataByte = alignUp(descByte + n * Desc.WORDS * 4, PAGE_BYTES);
    return { descByte, dataByte, end: dataByte + n * PAGE_BYTES };
  };
  while (dataPages > 0 && need(dataPages).end > mem.byteLength) dataPages--;
  if (dataPages < 1) {
    fail(Err.E_BAD_ARGUMENT, "format", `PMO of ${mem.byteLength} bytes is too small for a heap`, {
      byteLength: mem.byteLength,
    });
  }
  const { descByte, dataByte } = need(dataPages);
  mem.fill(0, dataByte, 0);
  const rnd = crypto.getRandomValues(new Uint32Array(2));
  const set = (word: number, v: number) => mem.setU32(word << 2, v);
  set(HeapWord.VERSION, HEAP_VERSION);
  set(HeapWord.INSTANCE0, rnd[0]);
  set(HeapWord.INSTANCE1, rnd[1]);
  set(HeapWord.MAX_OBJECTS, maxObjects);
  set(HeapWord.NAME_CAPACITY, nameCapacity);
  set(HeapWord.OWNER_CAPACITY, ownerCapacity);
  set(HeapWord.LLFREE_BYTE, llfreeByte);
  set(HeapWord.OWNERS_BYTE, ownersByte);
  set(HeapWord.NAMES_BYTE, namesByte);
  set(HeapWord.TABLE_BYTE, tableByte);
  set(HeapWord.DESC_BYTE, descByte);
  set(HeapWord.DATA_BYTE, dataByte);
  set(HeapWord.DATA_PAGES, dataPages);
  set(HeapWord.MAX_OBJECT_BYTES, OBJECT_BYTES_MAX);
  LLFree.format(mem, dataPages, llfreeByte);
  mem.atomicStore(HeapWord.MAGIC, HEAP_MAGIC); // published last
}
