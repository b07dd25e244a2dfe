/**
 * Error codes of the Tardigrade ABI: one small, closed set shared by the
 * kernel, the hardware model and every server.
 *
 * A failing call returns (or throws, in host code) a {@link TardigradeError}:
 * a numeric code from {@link Err}, its name, a message that says what was
 * wrong and what to do, and an optional detail record (which argument, which
 * slot, which limit). Checks run in a fixed order everywhere: bad slot, then
 * wrong object kind, then missing right, then bad argument.
 *
 * @module
 */

/** Numeric error codes. `OK` is 0 so a status word can be tested with `=== Err.OK`. */
export enum Err {
  OK = 0,
  /** A capability slot number is outside the cap group's table. */
  E_BAD_SLOT = 1,
  /** The slot is inside the table but holds no capability (never used, deleted or revoked). */
  E_EMPTY_SLOT = 2,
  /** The capability names an object of another kind than the call needs. */
  E_WRONG_KIND = 3,
  /** The capability lacks a right the call needs. */
  E_NO_RIGHTS = 4,
  /** An argument has the wrong type or is out of its documented range. */
  E_BAD_ARGUMENT = 5,
  /** A message is larger than MESSAGE_PAYLOAD_BYTES_MAX. */
  E_MESSAGE_TOO_LARGE = 6,
  /** A message does not follow the protocol it was sent under. */
  E_BAD_MESSAGE = 7,
  /** The ring or table is full; retry after the peer drains it. */
  E_WOULD_BLOCK = 8,
  /** A fixed-capacity table (slots, objects, connections) is full. */
  E_LIMIT = 9,
  /** Memory (NVM pages or a cap group's quota) is exhausted. */
  E_NO_MEMORY = 10,
  /** The peer component died; its pending callers get this instead of a hang. */
  E_PEER_DIED = 11,
  /** The call named an operation this object or server does not implement. */
  E_NOT_SUPPORTED = 12,
  /** The call did not complete within its time budget. */
  E_TIMEOUT = 13,
  /** An object with that name or id does not exist. */
  E_NOT_FOUND = 14,
  /** An object with that name already exists. */
  E_EXISTS = 15,
  /** The caller does not own what it tried to free or change. */
  E_NOT_OWNER = 16,
  /** The object was already freed. */
  E_DOUBLE_FREE = 17,
  /** The file at the image path is not a Tardigrade image. */
  E_IMAGE_NOT_TARDIGRADE = 18,
  /** The image is shorter than its superblock says. */
  E_IMAGE_TRUNCATED = 19,
  /** A checksum in the image does not match its contents. */
  E_IMAGE_CORRUPT = 20,
  /** The image was written by an incompatible format version. */
  E_IMAGE_VERSION = 21,
  /** The system is shutting down or not ready yet. */
  E_NOT_READY = 22,
  /** An internal invariant failed: a bug, reported instead of crashing the kernel. */
  E_INTERNAL = 23,
  /** Another machine has the image open (it holds the image file's lock). */
  E_IMAGE_BUSY = 24,
  /** Writing the image failed (an OS error such as ENOSPC or EIO, or a write that did not reach it). */
  E_IMAGE_IO = 25,
  /** Checkpoints kept failing between freeze and thaw; the last committed one stands. */
  E_CHECKPOINT_FAILED = 26,
  /** A file-system call failed: the message starts with its POSIX name (servers/fs/vfs.ts FsError). */
  E_FS = 27,
  /** The machine runs without the flag that allows this (the message names the flag). */
  E_DENIED = 28,
}

/** Number of error codes, for tables indexed by code. */
export const ERR_COUNT = 29;

/** The name of a code, e.g. `errName(4) === "E_NO_RIGHTS"`. */
export function errName(code: number): string {
  return Err[code] ?? `E_UNKNOWN_${code}`;
}

/** Detail record beside an error code: which argument, slot or limit failed. */
export type ErrorDetail = Record<string, string | number | boolean>;

/**
 * An error that callers are expected to catch and act on.
 *
 * @example
 * ```ts
 * throw new TardigradeError(Err.E_NO_RIGHTS, "cap_mint: slot 3 lacks GRANT", { slot: 3 });
 * ```
 */
export class TardigradeError extends Error {
  /** The numeric code, one of {@link Err}. */
  readonly code: Err;
  /** Which argument, slot or limit was wrong. */
  readonly detail: ErrorDetail;

  constructor(code: Err, message: string, detail: ErrorDetail = {}) {
    super(`${errName(code)}: ${message}`);
    this.name = "TardigradeError";
    this.code = code;
    this.detail = detail;
  }

  /** The code's name, e.g. `"E_NO_RIGHTS"`. */
  get codeName(): string {
    return errName(this.code);
  }
}

/** A serialisable error value, as it crosses postMessage. */
export interface ErrorValue {
  code: Err;
  message: string;
  detail: ErrorDetail;
}

/** Turns a caught value into an {@link ErrorValue}; anything unknown becomes E_INTERNAL. */
export function toErrorValue(e: unknown): ErrorValue {
  if (e instanceof TardigradeError) return { code: e.code, message: e.message, detail: e.detail };
  const message = e instanceof Error ? e.message : String(e);
  return { code: Err.E_INTERNAL, message: `${errName(Err.E_INTERNAL)}: ${message}`, detail: {} };
}

/** Rebuilds a throwable error from an {@link ErrorValue}. */
export function fromErrorValue(v: ErrorValue): TardigradeError {
  const e = new TardigradeError(v.code, "", v.detail);
  e.message = v.message;
  return e;
}

/** Always-on assertion: throws E_INTERNAL naming `where` when `cond` is false. */
export function assert(cond: unknown, where: string, what = "assertion failed"): asserts cond {
  if (!cond) throw new TardigradeError(Err.E_INTERNAL, `${where}: ${what}`);
}
