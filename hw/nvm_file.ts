/**
 * The image file as the NVM device's modules share it: one open, locked
 * file with whole-buffer reads and writes, and the state "dead" that a
 * power failure, an I/O error or a failed read-back leaves it in.
 *
 * - {@link ImageFile.open}: opens and locks (flock) the file; E_IMAGE_BUSY
 *   if another open image holds the lock. {@link ImageFile.openReadOnly}:
 *   the same with a shared lock, for readers that never write (the inspector).
 * - read / write: exactly the buffer, at an offset; a read past the end is
 *   E_IMAGE_TRUNCATED.
 * - {@link ImageFile.kill} / close: once dead, every call throws
 *   E_NOT_READY naming why; the lock goes with the file.
 * - {@link ioError}: an OS error as E_IMAGE_IO.
 *
 * @module
 */

import { Err, TardigradeError } from "../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../kernel/abi/limits.ts";
import { FRESH_HINT } from "./nvm_layout.ts";

/** E_IMAGE_IO for an error the OS reported while `what` ran on `path`. */
export function ioError(path: string, what: string, e: Error): TardigradeError {
  const os = (e as { code?: string }).code ?? e.name;
  return new TardigradeError(
    Err.E_IMAGE_IO,
    `${what} on ${path} failed: ${os}: ${e.message}. The checkpoint was not committed and the ` +
      `image still holds the previous one; free space or fix the disk, then boot again to resume`,
    { path, os },
  );
}

/** E_IMAGE_BUSY for `path`, whose lock another open image holds. */
function busyError(path: string): TardigradeError {
  return new TardigradeError(
    Err.E_IMAGE_BUSY,
    `${path} is in use by another machine, which holds its lock. Stop that machine first ` +
      `(Ctrl-C in its supervisor), or boot this one with another --image`,
    { path },
  );
}

/** An open, locked image file. */
export class ImageFile {
  /** The file's path. */
  readonly path: string;
  /** Whether to flush to stable storage around superblock writes and scrubs. */
  readonly fsync: boolean;
  #file: Deno.FsFile | undefined;
  /** Why this file can no longer be used, or "" while it can. */
  #dead = "";
  #scratch: Uint8Array | undefined;

  private constructor(path: string, file: Deno.FsFile, fsync: boolean) {
    this.path = path;
    this.#file = file;
    this.fsync = fsync;
  }

  /**
   * Opens `path` for reading and writing (creating it if `create`) and takes
   * its exclusive lock: E_IMAGE_BUSY if another open image holds it. The
   * lock goes with the file's closing or the process's death (a SIGKILLed
   * machine leaves none behind).
   */
  static open(path: string, opts: { create: boolean; fsync: boolean }): ImageFile {
    const file = Deno.openSync(path, { read: true, write: true, create: opts.create });
    if (file.tryLockSync(true)) return new ImageFile(path, file, opts.fsync);
    file.close();
    throw busyError(path);
  }

  /**
   * Opens `path` for reading only and takes its shared lock: E_IMAGE_BUSY
   * while a machine holds the exclusive one (and a machine cannot open it
   * while this is open). A write through it fails: the OS refuses it.
   */
  static openReadOnly(path: string): ImageFile {
    const file = Deno.openSync(path, { read: true });
    if (file.tryLockSync(false)) return new ImageFile(path, file, false);
    file.close();
    throw busyError(path);
  }

  /** The file's size in bytes. */
  size(): number {
    return this.#live().statSync().size;
  }

  /** Empties the file, then makes it `bytes` long (sparse zeros). */
  reset(bytes: number): void {
    const file = this.#live();
    file.truncateSync(0);
    file.truncateSync(bytes);
  }

  /** Reads exactly `buf.length` bytes at `pos`; E_IMAGE_TRUNCATED if the file ends first. */
  read(pos: number, buf: Uint8Array): void {
    const file = this.#live();
    file.seekSync(pos, Deno.SeekMode.Start);
    let done = 0;
    while (done < buf.length) {
      const n = file.readSync(buf.subarray(done));
      if (n === null || n === 0) {
        throw new TardigradeError(
          Err.E_IMAGE_TRUNCATED,
          `${this.path} ended at byte ${pos + done} while reading ${buf.length} bytes at ` +
            `${pos}: the file was cut short. Restore it from a backup, or ${FRESH_HINT}`,
          { path: this.path, offset: pos + done },
        );
      }
      done += n;
    }
  }

  /** Writes all of `buf` at `pos`. */
  write(pos: number, buf: Uint8Array): void {
    const file = this.#live();
    file.seekSync(pos, Deno.SeekMode.Start);
    let done = 0;
    while (done < buf.length) done += file.writeSync(buf.subarray(done));
  }

  /** Flushes data and metadata to stable storage. */
  sync(): void {
    this.#live().syncSync();
  }

  /** Flushes the data to stable storage. */
  syncData(): void {
    this.#live().syncDataSync();
  }

  /** Throws E_NOT_READY if the file was closed or killed. */
  checkLive(): void {
    this.#live();
  }

  /** Closes the file for good, recording `reason` for the E_NOT_READY of later calls. */
  kill(reason: string): void {
    this.#dead = reason;
    const f = this.#file;
    this.#file = undefined;
    f?.close();
  }

  /** Closes the file (and so drops its lock); closing twice, or after kill, is harmless. */
  close(): void {
    if (this.#dead === "") this.kill("it was closed");
  }

  /** A reusable buffer of exactly `bytes` bytes (a view of a grown scratch area). */
  scratch(bytes: number): Uint8Array {
    if (this.#scratch === undefined || this.#scratch.length < bytes) {
      this.#scratch = new Uint8Array(Math.max(bytes, 16 * PAGE_BYTES));
    }
    return this.#scratch.subarray(0, bytes);
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
}
