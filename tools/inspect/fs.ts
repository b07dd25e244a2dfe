/**
 * The file system of a committed image: the FS server's kept PMOs
 * (`fs-meta`, `fs-data-0…`) copied out of the image and opened by the
 * storage itself (servers/fs/store/ `openFsStore`, attach only: an
 * unformatted store is reported as such, never formatted), then walked.
 *
 * Map of this file: {@link FsTreeEntry}, {@link FsReport}, {@link fsReport}
 * (find, open, walk with bounds).
 *
 * @module
 */

import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { openFsStore } from "../../servers/fs/store/mod.ts";
import type { FileSystem, FsKind, FsSpace } from "../../servers/fs/vfs.ts";
import { type KeptPmo, keptPmo, type KernelView } from "./kernel.ts";

/** One name in the tree. */
export interface FsTreeEntry {
  path: string;
  kind: FsKind;
  /** Bytes (a directory's: its entry count). */
  size: number;
  /** Depth below the root (the root's children are 1). */
  depth: number;
}

/** The file system, or why there is none to show. */
export type FsReport =
  | { state: "absent" | "unformatted" }
  | {
    state: "ok";
    space: FsSpace;
    /** Names in the whole tree, by kind, and the bytes of its files. */
    files: number;
    dirs: number;
    symlinks: number;
    fileBytes: number;
    /** The names shown: at most `limit`, at most `depth` deep, in walk order. */
    entries: FsTreeEntry[];
    /** True when the tree has more names than `entries` shows. */
    truncated: boolean;
  };

/** Bounds of the walk. */
export interface FsBounds {
  depth: number;
  limit: number;
}

/** Names one listing asks for at a time. */
const READDIR_PAGE_MAX = 256;
/** Names the walk visits at most (a loop in a damaged tree must end). */
const WALK_NAMES_MAX = 1_000_000;

/** The FS server's tree in the image; the store's errors (E_IMAGE_CORRUPT…) are thrown. */
export function fsReport(k: KernelView, kept: KeptPmo[], bounds: FsBounds): FsReport {
  const metaRec = keptPmo(kept, "fs", "fs-meta");
  if (!metaRec) return { state: "absent" };
  const meta = k.pmoMemory(metaRec);
  if (meta.bytes.subarray(0, 64).every((b) => b === 0)) return { state: "unformatted" };
  const segments: PersistentMemory[] = [];
  for (let i = 0;; i++) {
    const rec = keptPmo(kept, "fs", `fs-data-${i}`);
    if (!rec) break;
    segments.push(k.pmoMemory(rec));
  }
  const { fs } = openFsStore(meta, segments, Date.now);
  const report = {
    state: "ok" as const,
    space: fs.space(),
    files: 0,
    dirs: 0,
    symlinks: 0,
    fileBytes: 0,
    entries: [] as FsTreeEntry[],
    truncated: false,
  };
  walk(fs, "/", 1, bounds, report);
  return report;
}

/** Visits the names under `dir`, counting them all and keeping those within `bounds`. */
function walk(
  fs: FileSystem,
  dir: string,
  depth: number,
  bounds: FsBounds,
  r: Extract<FsReport, { state: "ok" }>,
): void {
  let cursor = 0;
  do {
    const page = fs.readdir(dir, cursor, READDIR_PAGE_MAX);
    for (const e of page.entries) {
      if (r.files + r.dirs + r.symlinks >= WALK_NAMES_MAX) return;
      const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
      const st = fs.lstat(path);
      if (e.kind === "file") {
        r.files++;
        r.fileBytes += st.size;
      } else if (e.kind === "dir") r.dirs++;
      else r.symlinks++;
      if (depth <= bounds.depth && r.entries.length < bounds.limit) {
        r.entries.push({ path, kind: e.kind, size: st.size, depth });
      } else r.truncated = true;
      if (e.kind === "dir") walk(fs, path, depth + 1, bounds, r);
    }
    cursor = page.cursor;
  } while (cursor !== 0);
}
