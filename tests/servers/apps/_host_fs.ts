/**
 * The shell tests' file system: tools/fs_host.ts `HostFsApi` over a host
 * directory, counting the calls made (a test counts a step's calls with
 * it) and noting when `sync` is called.
 *
 * @module
 */

import { HostFsApi } from "../../../tools/fs_host.ts";

/** `HostFsApi` with its calls counted. */
export class HostDirFs extends HostFsApi {
  /** File-system calls made. */
  calls = 0;
  /** The `sync` calls made: the value of {@link calls} before each. */
  readonly syncs: number[] = [];

  /** @param root an existing empty directory */
  constructor(root: string) {
    super(root);
    // Every FsApi method the shell calls counts once (own fields and the constructor do not).
    const proto = HostFsApi.prototype as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(HostFsApi.prototype)) {
      const method = proto[name];
      if (name === "constructor" || typeof method !== "function") continue;
      if (!FS_API_METHODS.has(name)) continue;
      Object.defineProperty(this, name, {
        value: (...args: unknown[]) => {
          if (name === "sync") this.syncs.push(this.calls);
          this.calls++;
          return (method as (...a: unknown[]) => unknown).apply(this, args);
        },
      });
    }
  }
}

/** The methods of servers/fs/vfs.ts `FsApi`. */
const FS_API_METHODS = new Set([
  "open",
  "close",
  "read",
  "write",
  "pread",
  "pwrite",
  "seek",
  "ftruncate",
  "fstat",
  "fsync",
  "stat",
  "lstat",
  "truncate",
  "readdir",
  "mkdir",
  "rmdir",
  "unlink",
  "rename",
  "link",
  "symlink",
  "readlink",
  "chmod",
  "utimes",
  "space",
  "sync",
]);
