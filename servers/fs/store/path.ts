/**
 * Path resolution: checks a path's text (absolute, no NUL, at most
 * PATH_BYTES_MAX bytes and NAME_BYTES_MAX per name) and walks it from the
 * root, component by component: "." stays, ".." goes to the parent (the
 * root's is the root), a symlink in the middle is followed (a relative
 * target from the link's directory), at most SYMLINK_FOLLOW_MAX times
 * (ELOOP). The last component is followed when the caller asks or the
 * path ends in "/". Each directory passed needs its search bit (0o100).
 *
 * The answer names the last component's directory, its name and its
 * inode (0 when missing), so each operation decides what a missing or
 * present name means for it.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { FsErrno, FsError, NAME_BYTES_MAX, PATH_BYTES_MAX, SYMLINK_FOLLOW_MAX } from "../vfs.ts";
import type { Dirs } from "./dir.ts";
import { I, type Inodes, Kind } from "./inode.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where a path led. */
export interface Resolved {
  /** The directory holding the last component (for "/", "." and "..": the directory named). */
  parent: number;
  /** The last name's bytes; null for "/", "." and ".." (not a name one can create or remove). */
  name: Uint8Array | null;
  /** What the last component is: "/", ".", ".." or a name. */
  last: string;
  /** The inode named, 0 when the last name is missing. */
  ino: number;
  /** The path ended in "/" (the inode must be a directory). */
  slash: boolean;
}

/** The throw of an errno with `op` and `path` in the message. */
export function fsFail(errno: FsErrno, op: string, path: string, what: string): never {
  throw new FsError(errno, `${op} ${JSON.stringify(path)}: ${what}`);
}

/** Checks a path's text (EINVAL, ENOENT, ENAMETOOLONG); returns its names. */
export function splitPath(op: string, path: string): string[] {
  if (typeof path !== "string") fsFail(FsErrno.EINVAL, op, String(path), "a path is a string");
  if (path.includes("\0")) fsFail(FsErrno.EINVAL, op, path, "a path holds no NUL");
  if (path.length === 0) fsFail(FsErrno.ENOENT, op, path, "the path is empty");
  if (encoder.encode(path).length > PATH_BYTES_MAX) {
    fsFail(FsErrno.ENAMETOOLONG, op, path, `a path is at most ${PATH_BYTES_MAX} bytes`);
  }
  if (path[0] !== "/") fsFail(FsErrno.EINVAL, op, path, "paths are absolute (start with /)");
  return splitNames(op, path);
}

function splitNames(op: string, path: string): string[] {
  const names = path.split("/").filter((n) => n.length > 0);
  for (const n of names) {
    if (n.length * 3 > NAME_BYTES_MAX && encoder.encode(n).length > NAME_BYTES_MAX) {
      fsFail(FsErrno.ENAMETOOLONG, op, path, `a name is at most ${NAME_BYTES_MAX} bytes`);
    }
  }
  return names;
}

/** The UTF-8 bytes of a name. */
export function nameBytes(name: string): Uint8Array {
  return encoder.encode(name);
}

/** A name's text from its bytes. */
export function nameText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * What happens to the last component: "follow" follows a symlink there
 * (stat, open); "nofollow" only before a final "/" (lstat, readlink, open
 * with O_NOFOLLOW); "entry" never, and a final "/" after a non-directory
 * is ENOTDIR (unlink, rmdir, rename); "create" never, and a final "/"
 * is the caller's to judge (mkdir, symlink's and link's new names);
 * "creat" follows but not before a final "/", which is the caller's (open
 * with O_CREAT: EISDIR before the final name is looked at, as Linux).
 * A symlink followed as the last component whose target ends in "/"
 * gives the path a final "/".
 */
export type Follow = "follow" | "nofollow" | "entry" | "create" | "creat";

/** Path walks over one tree. */
export class Paths {
  constructor(
    private readonly inodes: Inodes,
    private readonly dirs: Dirs,
    private readonly root: number,
    private readonly symlinkText: (ino: number) => string,
  ) {}

  /**
   * Resolves `path` for `op`, the last component as `follow` says. Throws
   * ENOENT for a missing directory on the way, ENOTDIR for a non-directory
   * on the way (or a non-directory before a final "/"), EACCES, ELOOP.
   */
  resolve(op: string, path: string, follow: Follow): Resolved {
    let names = splitPath(op, path);
    let slash = path.endsWith("/") && names.length > 0;
    const inodes = this.inodes;
    let dir = this.root;
    let follows = 0;
    const followLast = () =>
      follow === "follow" || (follow === "creat" && !slash) || (follow === "nofollow" && slash);
    if (names.length === 0) return { parent: dir, name: null, last: "/", ino: dir, slash: false };
    for (let i = 0; i < names.length; i++) {
      const n = names[i];
      const last = i === names.length - 1;
      if ((inodes.get(dir, I.MODE) & 0o100) === 0) {
        fsFail(FsErrno.EACCES, op, path, "a directory on the way has no search permission");
      }
      let next: number;
      let bytes: Uint8Array | null = null;
      if (n === ".") next = dir;
      else if (n === "..") next = inodes.get(dir, I.AUX);
      else {
        bytes = encoder.encode(n);
        next = this.dirs.find(inodes.get(dir, I.ROOT), bytes);
      }
      if (next === 0) {
        if (last) return { parent: dir, name: bytes, last: n, ino: 0, slash };
        fsFail(FsErrno.ENOENT, op, path, `no such file or directory (${n})`);
      }
      const kind = inodes.kind(next);
      if (kind === Kind.SYMLINK && (!last || followLast())) {
        if (++follows > SYMLINK_FOLLOW_MAX) {
          fsFail(FsErrno.ELOOP, op, path, `more than ${SYMLINK_FOLLOW_MAX} symlinks on the way`);
        }
        const target = this.symlinkText(next);
        if (last && target.endsWith("/")) slash = true;
        names = [...splitNames(op, target), ...names.slice(i + 1)];
        if (target.startsWith("/")) dir = this.root;
        if (names.length === 0) return { parent: dir, name: null, last: "/", ino: dir, slash };
        i = -1;
        continue;
      }
      if (last) {
        if (slash && kind !== Kind.DIR && follow !== "create" && follow !== "creat") {
          fsFail(FsErrno.ENOTDIR, op, path, "not a directory");
        }
        if (bytes === null) {
          return { parent: next, name: null, last: n, ino: next, slash };
        }
        return { parent: dir, name: bytes, last: n, ino: next, slash };
      }
      if (kind !== Kind.DIR) fsFail(FsErrno.ENOTDIR, op, path, `${n} is not a directory`);
      dir = next;
    }
    throw new TardigradeError(
      Err.E_INTERNAL,
      `Paths.resolve ${path}: the walk ended without an answer`,
    );
  }
}
