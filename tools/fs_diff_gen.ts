/**
 * The operations of the file-system differential test (tools/fs_diff.ts)
 * as data, and where they come from.
 *
 * Map of this file:
 * - {@link FsOp}: one call of the contract (servers/fs/vfs.ts `FsApi`) with
 *   its arguments; a descriptor is named by its handle `h`, the index of the
 *   open that made it in the sequence, so one sequence runs on two sides
 *   whose numbers may differ; {@link showOp} prints one;
 * - {@link payload}: the bytes a write writes (length and tag, no literal
 *   data in an op);
 * - {@link FsGenerator}: seeded random operations over a small universe
 *   (names a, b, c up to three deep, so calls meet each other's files),
 *   with every kind of error on purpose: missing parents, a file used as a
 *   directory, EEXIST, ENOTEMPTY, symlink loops, EISDIR, closed
 *   descriptors, overlong names, NUL, relative and empty paths, ".." at the
 *   root, trailing slashes;
 * - the bounded set after CrashMonkey's ACE ({@link ACE_START},
 *   {@link aceOps}, {@link sequences}): a fixed starting tree of two
 *   directories and three files, and each operation with fixed arguments
 *   over them, so every sequence of 1, 2 and 3 of them can be enumerated.
 *
 * Modes keep the owner's read, write and search bits: the host side may
 * run as root, which checks no permission bits, so a restrictive mode
 * would differ on purpose (the contract checks the owner bits); the
 * storage's own tests check EACCES.
 *
 * @module
 */

import { Prng } from "../kernel/abi/prng.ts";
import { NAME_BYTES_MAX, OpenFlag, Whence } from "../servers/fs/vfs.ts";

/** One call of the contract, as data. */
export type FsOp =
  | { op: "open"; path: string; flags: number; mode: number }
  | { op: "close"; h: number }
  | { op: "read"; h: number; length: number }
  | { op: "write"; h: number; length: number; tag: number }
  | { op: "pread"; h: number; offset: number; length: number }
  | { op: "pwrite"; h: number; offset: number; length: number; tag: number }
  | { op: "seek"; h: number; offset: number; whence: Whence }
  | { op: "ftruncate"; h: number; length: number }
  | { op: "fstat"; h: number }
  | { op: "fsync"; h: number }
  | { op: "stat" | "lstat" | "readlink" | "readdir" | "rmdir" | "unlink"; path: string }
  | { op: "truncate"; path: string; length: number }
  | { op: "mkdir"; path: string; mode: number }
  | { op: "rename" | "link"; from: string; to: string }
  | { op: "symlink"; target: string; path: string }
  | { op: "chmod"; path: string; mode: number }
  | { op: "utimes"; path: string; atimeMs: number; mtimeMs: number }
  /** open(path, flags) + pwrite(offset, length bytes) + close, as ACE writes. */
  | { op: "put"; path: string; flags: number; offset: number; length: number; tag: number }
  | { op: "sync" };

/** The `length` bytes a write with `tag` writes: never all zeros, so a hole shows. */
export function payload(length: number, tag: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((tag * 37 + i * 7) % 251) + 1;
  return out;
}

const FLAG_NAMES: Array<[number, string]> = [
  [OpenFlag.CREAT, "CREAT"],
  [OpenFlag.EXCL, "EXCL"],
  [OpenFlag.TRUNC, "TRUNC"],
  [OpenFlag.APPEND, "APPEND"],
  [OpenFlag.DIRECTORY, "DIRECTORY"],
  [OpenFlag.NOFOLLOW, "NOFOLLOW"],
];

/** Open flags as text, e.g. "RDWR|CREAT|EXCL". */
export function showFlags(flags: number): string {
  const access = ["RDONLY", "WRONLY", "RDWR", "ACC3"][flags & 3];
  return [access, ...FLAG_NAMES.filter(([f]) => flags & f).map(([, n]) => n)].join("|");
}

/** A path or target in a line: JSON-quoted, long names shortened. */
function q(s: string): string {
  return JSON.stringify(s.replace(/[^/]{20,}/g, (m) => `${m[0]}…(${m.length})`));
}

/** One operation as one line. */
export function showOp(o: FsOp): string {
  switch (o.op) {
    case "open":
      return `open ${q(o.path)} ${showFlags(o.flags)} 0o${o.mode.toString(8)}`;
    case "put":
      return `put ${q(o.path)} ${showFlags(o.flags)} @${o.offset} ${o.length}B#${o.tag}`;
    case "write":
      return `write h${o.h} ${o.length}B#${o.tag}`;
    case "pwrite":
      return `pwrite h${o.h} @${o.offset} ${o.length}B#${o.tag}`;
    case "read":
      return `read h${o.h} ${o.length}`;
    case "pread":
      return `pread h${o.h} @${o.offset} ${o.length}`;
    case "seek":
      return `seek h${o.h} ${o.offset} ${Whence[o.whence]}`;
    case "ftruncate":
      return `ftruncate h${o.h} ${o.length}`;
    case "close":
    case "fstat":
    case "fsync":
      return `${o.op} h${o.h}`;
    case "truncate":
      return `truncate ${q(o.path)} ${o.length}`;
    case "mkdir":
    case "chmod":
      return `${o.op} ${q(o.path)} 0o${o.mode.toString(8)}`;
    case "rename":
    case "link":
      return `${o.op} ${q(o.from)} ${q(o.to)}`;
    case "symlink":
      return `symlink ${q(o.target)} ${q(o.path)}`;
    case "utimes":
      return `utimes ${q(o.path)} ${o.atimeMs} ${o.mtimeMs}`;
    case "sync":
      return "sync";
    default:
      return `${o.op} ${q(o.path)}`;
  }
}

/** True for an operation that makes a handle (its result is a descriptor). */
export function opensHandle(o: FsOp): boolean {
  return o.op === "open";
}

// ── the seeded generator ──

/** Directory names of the universe (a parent is made of these). */
export const DIR_NAMES = ["d", "e"];
/** File names of the universe. */
export const FILE_NAMES = ["f", "g"];
/** Symlink names of the universe. */
export const LINK_NAMES = ["l"];
/** Every name of the universe: few, so calls meet each other's files. */
export const NAMES = [...DIR_NAMES, ...FILE_NAMES, ...LINK_NAMES];
/** What a path's last name is meant to be (the generator picks another now and then). */
export type Leaf = "dir" | "file" | "link" | "any";
const LENGTHS = [1, 3, 100, 4095, 4096, 5000, 12_295];
const OFFSETS = [0, 1, 100, 4095, 4096, 8191, 20_000, 65_539, 1 << 20];
const TRUNC_LENGTHS = [0, 1, 50, 4096, 5000, 20_000, 1 << 20];
const FILE_MODES = [0o644, 0o600, 0o666, 0o755];
const DIR_MODES = [0o755, 0o700, 0o777];

/**
 * Seeded random operations over the universe of {@link NAMES}.
 *
 * @example
 * ```ts
 * const g = new FsGenerator(42);
 * const ops = Array.from({ length: 100 }, () => g.next());
 * ```
 */
export class FsGenerator {
  private readonly prng: Prng;
  /** Handles made so far (opens generated). */
  private handles = 0;

  /**
   * @param seed the seed of every choice
   * @param pathOnly no descriptors: each open or descriptor call becomes a
   *   `put` (open, pwrite, close in one), for a load whose every operation
   *   stands alone (tests/programs/fsload.ts)
   */
  constructor(readonly seed: number, readonly pathOnly = false) {
    this.prng = new Prng(seed);
  }

  /** The next operation. */
  next(): FsOp {
    const o = this.pick();
    if (opensHandle(o)) this.handles++;
    return o;
  }

  private pick(): FsOp {
    const p = this.prng;
    const r = p.int(0, 99);
    if (this.pathOnly && r < 60) return this.put();
    if (r < 16 || this.handles === 0 && r < 40) return this.open();
    if (r < 60) return this.fdOp();
    if (r < 68) return { op: "mkdir", path: this.path("dir"), mode: p.pick(DIR_MODES) };
    if (r < 72) return { op: "rmdir", path: this.path("dir") };
    if (r < 77) return { op: "unlink", path: this.path(p.pick(["file", "link"] as const)) };
    if (r < 84) return { op: "rename", from: this.path("any"), to: this.path("any") };
    if (r < 87) return { op: "link", from: this.path("file"), to: this.path("file") };
    if (r < 90) return { op: "symlink", target: this.target(), path: this.path("link") };
    if (r < 91) return { op: "readlink", path: this.path("link") };
    if (r < 93) return { op: p.pick(["stat", "lstat"] as const), path: this.path("any") };
    if (r < 95) return { op: "readdir", path: p.int(0, 3) === 0 ? "/" : this.path("dir") };
    if (r < 97) return { op: "truncate", path: this.path("file"), length: p.pick(TRUNC_LENGTHS) };
    if (r < 98) return { op: "chmod", path: this.path("any"), mode: p.pick([0o755, 0o700, 0o777]) };
    if (r < 99) {
      return { op: "utimes", path: this.path("any"), atimeMs: 1_000_000, mtimeMs: 2_000_000 };
    }
    return { op: "sync" };
  }

  private open(): FsOp {
    const p = this.prng;
    let flags = p.pick([OpenFlag.RDONLY, OpenFlag.WRONLY, OpenFlag.RDWR, OpenFlag.RDWR]);
    if (p.int(0, 9) < 6) flags |= OpenFlag.CREAT;
    if (p.int(0, 9) < 2) flags |= OpenFlag.EXCL;
    if (p.int(0, 9) < 2) flags |= OpenFlag.TRUNC;
    if (p.int(0, 9) < 2) flags |= OpenFlag.APPEND;
    // O_CREAT|O_DIRECTORY is EINVAL on Linux 6.4 and later, but not before: left out.
    if (!(flags & OpenFlag.CREAT) && p.int(0, 19) === 0) flags |= OpenFlag.DIRECTORY;
    if (p.int(0, 19) === 0) flags |= OpenFlag.NOFOLLOW;
    return {
      op: "open",
      path: this.path(p.int(0, 9) === 0 ? "any" : "file"),
      flags,
      mode: p.pick(FILE_MODES),
    };
  }

  private put(): FsOp {
    const p = this.prng;
    const o = this.open() as Extract<FsOp, { op: "open" }>;
    const flags = (o.flags & ~3) | p.pick([OpenFlag.WRONLY, OpenFlag.RDWR]);
    return {
      op: "put",
      path: o.path,
      flags,
      offset: p.pick(OFFSETS),
      length: p.pick(LENGTHS),
      tag: p.int(0, 250),
    };
  }

  private fdOp(): FsOp {
    const p = this.prng;
    const h = this.handle();
    switch (p.int(0, 14)) {
      case 0:
      case 1:
      case 2:
        return { op: "write", h, length: p.pick(LENGTHS), tag: p.int(0, 250) };
      case 3:
      case 4:
        return {
          op: "pwrite",
          h,
          offset: p.pick(OFFSETS),
          length: p.pick(LENGTHS),
          tag: p.int(0, 250),
        };
      case 5:
      case 6:
        return { op: "read", h, length: p.pick(LENGTHS) };
      case 7:
        return { op: "pread", h, offset: p.pick(OFFSETS), length: p.pick(LENGTHS) };
      case 8:
        return {
          op: "seek",
          h,
          offset: p.pick([0, 10, 5000, -1, -100_000]),
          whence: p.pick([Whence.SET, Whence.CUR, Whence.END]),
        };
      case 9:
        return { op: "ftruncate", h, length: p.pick(TRUNC_LENGTHS) };
      case 10:
      case 11:
        return { op: "fstat", h };
      case 12:
        return { op: "fsync", h };
      case 13:
        return { op: "read", h, length: p.pick(LENGTHS) };
      default:
        return { op: "close", h };
    }
  }

  /** A handle made so far, the recent ones more often; now and then one never made. */
  private handle(): number {
    const p = this.prng;
    if (this.handles === 0 || p.int(0, 29) === 0) return this.handles + p.int(0, 3);
    const back = Math.min(
      this.handles - 1,
      p.int(0, 2) === 0 ? p.int(0, this.handles - 1) : p.int(0, 2),
    );
    return this.handles - 1 - back;
  }

  /**
   * A path of the universe whose last name is mostly of kind `leaf`, under
   * a parent of 0 to 2 directory names; now and then a bad or unusual one.
   */
  path(leaf: Leaf): string {
    const p = this.prng;
    const r = p.int(0, 99);
    if (r === 0) return "";
    if (r === 1) return p.pick(NAMES);
    if (r === 2) return `/${p.pick(NAMES)}\0x`;
    if (r === 3) return `/${"n".repeat(NAME_BYTES_MAX + 1)}`;
    if (r === 4) return `/${p.pick(DIR_NAMES)}/${"m".repeat(NAME_BYTES_MAX)}`;
    const depth = p.int(0, 19);
    const parents = depth < 10 ? 0 : depth < 17 ? 1 : 2;
    const parts = Array.from(
      { length: parents },
      () => p.int(0, 9) === 0 ? p.pick(NAMES) : p.pick(DIR_NAMES),
    );
    const names = leaf === "dir"
      ? DIR_NAMES
      : leaf === "file"
      ? FILE_NAMES
      : leaf === "link"
      ? LINK_NAMES
      : NAMES;
    parts.push(p.int(0, 4) === 0 ? p.pick(NAMES) : p.pick(names));
    let path = `/${parts.join("/")}`;
    if (r < 7) path = `/..${path}`;
    else if (r < 9) path = path.replace(/\/([^/]+)$/, "/./$1");
    else if (r < 11) path = `/${p.pick(DIR_NAMES)}/..${path}`;
    else if (r < 14) path += "/";
    else if (r < 16) path = path.replace("/", "//");
    return path;
  }

  /** A symlink target: a universe path, a relative one, a loop, the root, up above it. */
  private target(): string {
    const p = this.prng;
    switch (p.int(0, 7)) {
      case 0:
      case 1:
        return this.path("any").replace(/\0.*/, "") || "/f";
      case 2:
        return p.pick(NAMES);
      case 3:
        return `../${p.pick(NAMES)}`;
      case 4:
        return `${p.pick(DIR_NAMES)}/${p.pick(NAMES)}`;
      case 5:
        return p.pick(["/", ".", "..", "../../..", "../../../a"]);
      default:
        return `/${p.pick(NAMES)}`;
    }
  }
}

// ── the bounded set, after CrashMonkey's ACE ──

/** The starting tree of every bounded sequence: /A, /B, /A/foo (5000 B), /B/bar (10 B), handle 0 on /A/foo. */
export const ACE_START: FsOp[] = [
  { op: "mkdir", path: "/A", mode: 0o755 },
  { op: "mkdir", path: "/B", mode: 0o755 },
  {
    op: "put",
    path: "/A/foo",
    flags: OpenFlag.WRONLY | OpenFlag.CREAT,
    offset: 0,
    length: 5000,
    tag: 1,
  },
  {
    op: "put",
    path: "/B/bar",
    flags: OpenFlag.WRONLY | OpenFlag.CREAT,
    offset: 0,
    length: 10,
    tag: 2,
  },
  { op: "open", path: "/A/foo", flags: OpenFlag.RDWR, mode: 0o644 },
];

/**
 * The bounded operations over {@link ACE_START}'s tree (files foo and bar
 * in directories A and B): creat, mkdir, write (overlapping, appending, past
 * the end), truncate (down and up), link, unlink, rename (file over file,
 * file over a hard link of another, file over a missing name, directory
 * across, directory over a non-empty one), symlink, fsync, and rmdir, each
 * with fixed arguments.
 */
export function aceOps(): FsOp[] {
  const W = OpenFlag.WRONLY;
  return [
    {
      op: "put",
      path: "/A/bar",
      flags: W | OpenFlag.CREAT | OpenFlag.TRUNC,
      offset: 0,
      length: 0,
      tag: 3,
    },
    { op: "mkdir", path: "/A/C", mode: 0o755 },
    { op: "put", path: "/A/foo", flags: W, offset: 4090, length: 20, tag: 4 },
    { op: "put", path: "/B/bar", flags: W | OpenFlag.APPEND, offset: 0, length: 4100, tag: 5 },
    { op: "put", path: "/B/bar", flags: W | OpenFlag.CREAT, offset: 9000, length: 7, tag: 6 },
    { op: "truncate", path: "/A/foo", length: 100 },
    { op: "truncate", path: "/B/bar", length: 8200 },
    { op: "link", from: "/A/foo", to: "/B/foo" },
    { op: "unlink", path: "/A/foo" },
    { op: "unlink", path: "/B/bar" },
    { op: "rename", from: "/A/foo", to: "/B/bar" },
    { op: "rename", from: "/B/bar", to: "/B/foo" },
    { op: "rename", from: "/A/C", to: "/B/C" },
    { op: "rename", from: "/B", to: "/A" },
    { op: "symlink", target: "../A/foo", path: "/B/l" },
    { op: "pwrite", h: 0, offset: 6000, length: 10, tag: 7 },
    { op: "fsync", h: 0 },
    { op: "rmdir", path: "/A/C" },
  ];
}

/** Every sequence of exactly `n` operations drawn from `ops` (with repeats), in order. */
export function* sequences(ops: readonly FsOp[], n: number): Generator<FsOp[]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const rest of sequences(ops, n - 1)) {
    for (const o of ops) yield [...rest, o];
  }
}
