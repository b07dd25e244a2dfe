/**
 * What every command module shares: the shape of a command's entry in
 * the one table (name, arity, flags, keys, ACL categories, handler), the
 * context a handler runs in, Redis's reply texts pre-encoded, and the
 * argument readers (integers as Redis's string2ll, case-insensitive
 * keywords) that write Redis's error when an argument is bad.
 *
 * @module
 */

import type { Keyspace, KeyType } from "../keyspace.ts";
import type { Host, Session } from "../session.ts";
import { encodeReply, type OutputWriter, parseInt64 } from "../resp.ts";

/** Runs one command: argv[0] is its name; the arity was checked. */
export type Handler = (c: Context, argv: Uint8Array[], out: OutputWriter) => void;

/** One command (or subcommand, named "config|get") as COMMAND INFO shows it. */
export interface CommandSpec {
  /** Lower-case name; subcommands "parent|sub". */
  readonly name: string;
  /** Redis's arity: n arguments counting the name, or at least -n when negative. */
  readonly arity: number;
  /** COMMAND INFO flags: write, readonly, denyoom, fast, … */
  readonly flags: readonly string[];
  /** True when `flags` holds "denyoom" (checked on every call). */
  readonly denyOom: boolean;
  readonly firstKey: number;
  readonly lastKey: number;
  readonly keyStep: number;
  /** ACL categories ("@read", "@string", …). */
  readonly acl: readonly string[];
  /** Runs it; undefined for a container whose subcommands run instead. */
  readonly handler?: Handler;
  /** Subcommands by lower-case name (CONFIG GET, CLIENT ID, …). */
  readonly subcommands?: ReadonlyMap<string, CommandSpec>;
}

/**
 * A table entry from the figures COMMAND INFO of Redis 7.0 shows
 * (flags and ACL categories as blank-separated words).
 */
export function spec(
  name: string,
  arity: number,
  flags: string,
  firstKey: number,
  lastKey: number,
  keyStep: number,
  acl: string,
  handler?: Handler,
  subcommands?: CommandSpec[],
): CommandSpec {
  const flagList = flags === "" ? [] : flags.split(" ");
  return {
    name,
    arity,
    flags: flagList,
    denyOom: flagList.includes("denyoom"),
    firstKey,
    lastKey,
    keyStep,
    acl: acl === "" ? [] : acl.split(" "),
    handler,
    subcommands: subcommands && new Map(subcommands.map((s) => [s.name.split("|")[1], s])),
  };
}

/** What a handler works with; one object per {@link Commands}, reused for every command. */
export interface Context {
  readonly host: Host;
  readonly ks: Keyspace;
  session: Session;
  /** The whole table, for COMMAND. */
  readonly table: ReadonlyMap<string, CommandSpec>;
  /** The name as the client sent it argv[0] resolved to (for errors naming the command). */
  spec: CommandSpec;
}

// ── replies used everywhere, encoded once ──
export const R_OK = encodeReply("+OK\r\n");
export const R_NULL = encodeReply("$-1\r\n");
export const R_NULL_ARRAY = encodeReply("*-1\r\n");
export const R_EMPTY_ARRAY = encodeReply("*0\r\n");
export const R_ZERO = encodeReply(":0\r\n");
export const R_ONE = encodeReply(":1\r\n");
export const R_WRONGTYPE = encodeReply(
  "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
);
export const R_NOT_INTEGER = encodeReply("-ERR value is not an integer or out of range\r\n");
export const R_NOT_FLOAT = encodeReply("-ERR value is not a valid float\r\n");
export const R_SYNTAX = encodeReply("-ERR syntax error\r\n");
export const R_OVERFLOW = encodeReply("-ERR increment or decrement would overflow\r\n");
export const R_NO_SUCH_KEY = encodeReply("-ERR no such key\r\n");
export const R_SAME_OBJECT = encodeReply("-ERR source and destination objects are the same\r\n");
export const R_DB_RANGE = encodeReply("-ERR DB index is out of range\r\n");
export const R_MUST_BE_POSITIVE = encodeReply("-ERR value is out of range, must be positive\r\n");
export const R_OOM = encodeReply(
  "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
);

/** Largest string value (Redis's default proto-max-bulk-len, SETRANGE/APPEND limit). */
export const STRING_MAX_BYTES = 512 * 1024 * 1024;

/** `b` as an integer (Redis's string2ll), or undefined after writing "-ERR value is not an integer…". */
export function intArg(b: Uint8Array, out: OutputWriter): number | undefined {
  const v = parseInt64(b);
  if (v === undefined) out.raw(R_NOT_INTEGER);
  return v;
}

/** True when `b` spells `word` (lower-case ASCII) in any case; builds no string. */
export function isWord(b: Uint8Array, word: string): boolean {
  if (b.length !== word.length) return false;
  for (let i = 0; i < b.length; i++) {
    let c = b[i];
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== word.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * FNV-1a of `b` with ASCII letters folded to lower case: how the command
 * table is keyed, so a lookup builds no string.
 */
export function foldedHash(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    let c = b[i];
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}

/** `b` as a lower-case ASCII string (command names, keywords). */
export function lowerName(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) {
    let c = b[i];
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    s += String.fromCharCode(c);
  }
  return s;
}

const decoder = new TextDecoder();

/** `b` as text (UTF-8, for error messages and CONFIG values). */
export function text(b: Uint8Array): string {
  return decoder.decode(b);
}

/**
 * An argument as Redis echoes it in an error text (C's `%s`, `%.*s`): its
 * bytes up to the first NUL, at most `max` of them, one character per
 * byte (never UTF-8-decoded); OutputWriter.error writes each back as the
 * same byte.
 */
export function errorArg(b: Uint8Array, max = Infinity): string {
  let s = "";
  for (let i = 0; i < b.length && i < max && b[i] !== 0; i++) s += String.fromCharCode(b[i]);
  return s;
}

const encoder = new TextEncoder();

/** `s` as UTF-8 bytes. */
export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

/**
 * The type of `key`, checked against `want`: the type, "none" when there
 * is no key, or undefined after writing WRONGTYPE.
 */
export function typeIs(
  c: Context,
  key: Uint8Array,
  want: KeyType,
  out: OutputWriter,
): KeyType | "none" | undefined {
  const t = c.ks.type(c.session.db, key);
  if (t === undefined) return "none";
  if (t !== want) {
    out.raw(R_WRONGTYPE);
    return undefined;
  }
  return t;
}

/**
 * Redis's start/stop index normalisation (LRANGE, GETRANGE, ZRANGE):
 * negative from the end, clamped; undefined when the range is empty.
 */
export function normaliseRange(
  start: number,
  stop: number,
  length: number,
): [number, number] | undefined {
  if (start < 0) start = length + start;
  if (stop < 0) stop = length + stop;
  if (start < 0) start = 0;
  if (start > stop || start >= length) return undefined;
  if (stop >= length) stop = length - 1;
  return [start, stop];
}
