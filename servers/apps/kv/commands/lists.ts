/**
 * List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP (with count),
 * LRANGE, LLEN, LINDEX, as Redis 7.0 answers them.
 *
 * @module
 */

import type { ListEnd } from "../keyspace.ts";
import { type OutputWriter, parseInt64 } from "../resp.ts";
import {
  type CommandSpec,
  type Context,
  intArg,
  normaliseRange,
  R_EMPTY_ARRAY,
  R_MUST_BE_POSITIVE,
  R_NULL,
  R_NULL_ARRAY,
  R_ZERO,
  spec,
  typeIs,
} from "./context.ts";

function pushWith(end: ListEnd, onlyExisting: boolean) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    const t = typeIs(c, argv[1], "list", out);
    if (t === undefined) return;
    if (onlyExisting && t === "none") return out.raw(R_ZERO);
    out.integer(c.ks.listPush(c.session.db, argv[1], end, argv.slice(2)));
  };
}

/** A count argument that must be an integer ≥ 0 (getPositiveLongFromObjectOrReply: one error for both); undefined after it. */
export function positiveArg(b: Uint8Array, out: OutputWriter): number | undefined {
  const v = parseInt64(b);
  if (v === undefined || v < 0) {
    out.raw(R_MUST_BE_POSITIVE);
    return undefined;
  }
  return v;
}

function popWith(end: ListEnd) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    if (argv.length > 3) {
      return out.error(`ERR wrong number of arguments for '${c.spec.name}' command`);
    }
    const hasCount = argv.length === 3;
    let count = 0;
    if (hasCount) {
      const n = positiveArg(argv[2], out);
      if (n === undefined) return;
      count = n;
    }
    const t = typeIs(c, argv[1], "list", out);
    if (t === undefined) return;
    if (t === "none") return out.raw(hasCount ? R_NULL_ARRAY : R_NULL);
    if (hasCount && count === 0) return out.raw(R_EMPTY_ARRAY);
    const values = c.ks.listPop(c.session.db, argv[1], end, hasCount ? count : 1);
    if (hasCount) out.bulkArray(values);
    else out.bulk(values[0]);
  };
}

function lrange(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const start = intArg(argv[2], out);
  if (start === undefined) return;
  const stop = intArg(argv[3], out);
  if (stop === undefined) return;
  const t = typeIs(c, argv[1], "list", out);
  if (t === undefined) return;
  if (t === "none") return out.raw(R_EMPTY_ARRAY);
  const db = c.session.db;
  const range = normaliseRange(start, stop, c.ks.listLength(db, argv[1]));
  if (range === undefined) return out.raw(R_EMPTY_ARRAY);
  out.arrayHeader(range[1] - range[0] + 1);
  sinkOut = out;
  c.ks.listRangeEach(db, argv[1], range[0], range[1], intoReply);
}

/** Where {@link intoReply} writes: the reply of the LRANGE running (one at a time). */
let sinkOut: OutputWriter;
/** Writes one value of a range as a bulk, copied once from the store (no array per value). */
const intoReply = (bytes: Uint8Array, from: number, length: number) =>
  sinkOut.bulkFrom(bytes, from, length);

function llen(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "list", out);
  if (t === undefined) return;
  out.integer(t === "none" ? 0 : c.ks.listLength(c.session.db, argv[1]));
}

function lindex(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "list", out);
  if (t === undefined) return;
  if (t === "none") return out.raw(R_NULL);
  const index = intArg(argv[2], out);
  if (index === undefined) return;
  const v = c.ks.listIndex(c.session.db, argv[1], index);
  if (v === undefined) out.raw(R_NULL);
  else out.bulk(v);
}

/** The list commands' table entries. */
export const LIST_COMMANDS: CommandSpec[] = [
  spec("lpush", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", pushWith("left", false)),
  spec("rpush", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", pushWith("right", false)),
  spec("lpop", -2, "write fast", 1, 1, 1, "@write @list @fast", popWith("left")),
  spec("rpop", -2, "write fast", 1, 1, 1, "@write @list @fast", popWith("right")),
  spec("lrange", 4, "readonly", 1, 1, 1, "@read @list @slow", lrange),
  spec("llen", 2, "readonly fast", 1, 1, 1, "@read @list @fast", llen),
  spec("lindex", 3, "readonly", 1, 1, 1, "@read @list @slow", lindex),
  spec("lpushx", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", pushWith("left", true)),
  spec("rpushx", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", pushWith("right", true)),
];
