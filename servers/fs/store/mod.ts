/**
 * The file system's storage (servers/fs/store/): one metadata memory
 * object holding a persistent heap (servers/pmem/heap.ts) with the inodes
 * (inode.ts), directory tables (dir.ts), page maps and the data-page
 * allocator (pages.ts), descriptor tables (descriptors.ts) and quotas
 * (quota.ts); file bytes in the data segments. {@link openFsStore}
 * formats zeroed memory or attaches what is there; {@link NvmFileSystem}
 * is the {@link FileSystem} over them (descriptor calls in files.ts, name
 * calls in names.ts, file bytes in data.ts, path walks in path.ts).
 *
 * Every byte goes through the write barrier, and every request runs to
 * completion between checkpoints, so there is no journal: a resume
 * attaches the heap as the last checkpoint left it.
 *
 * Superblock (a heap block whose address is heap root 0):
 *
 *     0 magic   4 version   8 root inode   12 inodes   16 allocator metadata
 *     20 owners table   24 quota table   28 segments   32 pages per segment
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import { HEAP_PAGES_MAX, PersistentHeap } from "../../pmem/heap.ts";
import { Tables } from "../../pmem/table.ts";
import type { FileSystem } from "../vfs.ts";
import { FileData } from "./data.ts";
import { Descriptors } from "./descriptors.ts";
import { Dirs } from "./dir.ts";
import { I, Inodes, Kind } from "./inode.ts";
import { NvmFileSystem } from "./files.ts";
import { SB, type StoreParts } from "./names.ts";
import { DataPages, PageMaps } from "./pages.ts";
import { Quotas } from "./quota.ts";

export { NvmFileSystem } from "./files.ts";

const FS_MAGIC = 0x53465354; // "TSFS"
const FS_VERSION = 1;
const SB_BYTES = 64;
/** Heap root of the superblock. */
const ROOT_SUPER = 0;
const HEAP_SEED = 0x9e3779b9;

/**
 * Pages of the metadata memory object for `dataPages` data pages: 1 MiB
 * plus 1 KiB per data page (a small file's inode, name and page map take
 * about 150 bytes, so a file system full of one-page files uses a sixth of
 * it), at most what one heap addresses. A tree of many empty files needs
 * more: about 150 bytes each.
 */
export function fsMetaPagesFor(dataPages: number): number {
  return Math.min(HEAP_PAGES_MAX, 256 + Math.ceil(dataPages / 4));
}

/**
 * The file system in `meta` and `segments` (equal sizes, as many as the
 * server made): formatted when `meta` is zero at its header (a fresh
 * memory object), attached otherwise. E_IMAGE_CORRUPT when `meta` holds
 * something else or other segments than it was formatted with;
 * E_IMAGE_VERSION for another layout version.
 *
 * @example
 * ```ts
 * const { fs, fresh } = openFsStore(meta, [segment], Date.now);
 * const fd = fs.open(1, 1, "/hello", OpenFlag.CREAT | OpenFlag.WRONLY, 0o644);
 * ```
 */
export function openFsStore(
  meta: PersistentMemory,
  segments: PersistentMemory[],
  now: () => number,
): { fs: FileSystem; fresh: boolean } {
  checkSegments(segments);
  let zero = true;
  for (let i = 0; i < 64 && zero; i++) zero = meta.bytes[i] === 0;
  if (zero) return { fs: format(meta, segments, now), fresh: true };
  return { fs: attach(meta, segments, now), fresh: false };
}

function checkSegments(segments: PersistentMemory[]): void {
  if (segments.length === 0 || segments.some((s) => s.pageCount !== segments[0].pageCount)) {
    throw new TardigradeError(
      Err.E_BAD_ARGUMENT,
      `openFsStore: ${segments.length} data segments of ${
        segments.map((s) => s.pageCount).join("/")
      } pages; give one or more of one size`,
      { segments: segments.length },
    );
  }
}

function format(meta: PersistentMemory, segments: PersistentMemory[], now: () => number) {
  const heap = PersistentHeap.format(meta, HEAP_SEED);
  const tables = new Tables(heap);
  const sb = heap.alloc(SB_BYTES);
  meta.fill(sb, SB_BYTES);
  const { meta: allocator } = DataPages.format(heap, segments);
  const inodes = new Inodes(heap);
  const root = inodes.create(Kind.DIR, 0o755, 0, now());
  inodes.set(root, I.ROOT, new Dirs(tables, meta).create());
  inodes.set(root, I.AUX, root); // the root's parent is the root
  meta.setU32(sb + SB.VERSION, FS_VERSION);
  meta.setU32(sb + SB.ROOT, root);
  meta.setU32(sb + SB.INODES, 1);
  meta.setU32(sb + SB.ALLOCATOR, allocator);
  meta.setU32(sb + SB.OWNERS, Descriptors.createOwners(tables));
  meta.setU32(sb + SB.QUOTAS, Quotas.create(tables));
  meta.setU32(sb + SB.SEGMENTS, segments.length);
  meta.setU32(sb + SB.PER_SEGMENT, segments[0].pageCount);
  meta.setU32(sb + SB.MAGIC, FS_MAGIC);
  heap.setRoot(ROOT_SUPER, sb);
  return build(heap, tables, sb, segments, now);
}

function attach(meta: PersistentMemory, segments: PersistentMemory[], now: () => number) {
  const heap = PersistentHeap.attach(meta);
  const sb = heap.root(ROOT_SUPER);
  const where = `openFsStore: metadata PMO ${meta.id}`;
  if (sb === 0 || sb + SB_BYTES > meta.byteLength || meta.getU32(sb + SB.MAGIC) !== FS_MAGIC) {
    throw new TardigradeError(
      Err.E_IMAGE_CORRUPT,
      `${where} holds a heap but no file system; give the file system's own metadata object or a zeroed one`,
      { superblock: sb },
    );
  }
  const version = meta.getU32(sb + SB.VERSION);
  if (version !== FS_VERSION) {
    throw new TardigradeError(
      Err.E_IMAGE_VERSION,
      `${where}: file-system layout version ${version}, this code reads ${FS_VERSION}; format it anew`,
      { version },
    );
  }
  const count = meta.getU32(sb + SB.SEGMENTS);
  const per = meta.getU32(sb + SB.PER_SEGMENT);
  if (count !== segments.length || per !== segments[0].pageCount) {
    throw new TardigradeError(
      Err.E_IMAGE_CORRUPT,
      `${where} was formatted over ${count} data segments of ${per} pages, given ${segments.length} of ${
        segments[0].pageCount
      }; give it the segments it was made with`,
      { count, per },
    );
  }
  return build(heap, new Tables(heap), sb, segments, now);
}

function build(
  heap: PersistentHeap,
  tables: Tables,
  sb: number,
  segments: PersistentMemory[],
  now: () => number,
): NvmFileSystem {
  const mem = heap.mem;
  const inodes = new Inodes(heap);
  const dirs = new Dirs(tables, mem);
  const pages = DataPages.attach(heap, segments, mem.getU32(sb + SB.ALLOCATOR));
  const maps = new PageMaps(heap, pages);
  const quotas = new Quotas(tables, mem, mem.getU32(sb + SB.QUOTAS));
  const root = mem.getU32(sb + SB.ROOT);
  const parts: StoreParts = {
    heap,
    sb,
    inodes,
    dirs,
    pages,
    maps,
    quotas,
    data: new FileData(inodes, pages, maps, quotas, mem),
    descriptors: new Descriptors(heap, tables, mem.getU32(sb + SB.OWNERS)),
    root,
    now,
  };
  return new NvmFileSystem(parts);
}
