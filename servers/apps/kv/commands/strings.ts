/**
 * String commands: GET, SET (EX, PX, EXAT, PXAT, NX, XX, KEEPTTL, GET),
 * SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MGET, MSET, MSETNX,
 * APPEND, STRLEN, GETRANGE, SETRANGE, INCR, INCRBY, INCRBYFLOAT, DECR,
 * DECRBY, with Redis 7.0's replies and the order it checks arguments in
 * (options, then expire times, then the key's type).
 *
 * @module
 */

import { INT64_MAX, INT64_MIN, type OutputWriter, parseInt64, parseInt64Exact } from "../resp.ts";
import {
  bytes,
  type CommandSpec,
  type Context,
  intArg,
  isWord,
  R_NOT_FLOAT,
  R_NOT_INTEGER,
  R_NULL,
  R_OK,
  R_ONE,
  R_OVERFLOW,
  R_SYNTAX,
  R_WRONGTYPE,
  R_ZERO,
  spec,
  typeIs,
} from "./context.ts";
import { incrByFloat } from "./float.ts";
import { protoMaxBulkLen } from "./server.ts";

const R_EMPTY_BULK = bytes("$0\r\n\r\n");
const R_TOO_BIG = bytes("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
/** Largest millisecond count Redis accepts (LLONG_MAX). */
const MS_MAX = 9223372036854775807;

const enum Opt {
  NX = 1,
  XX = 2,
  GET = 4,
  KEEPTTL = 8,
  PERSIST = 16,
  EX = 32,
  PX = 64,
  EXAT = 128,
  PXAT = 256,
}
const EXPIRES = Opt.EX | Opt.PX | Opt.EXAT | Opt.PXAT;

/**
 * Redis's parseExtendedStringArgumentsOrReply for SET (`forSet`) and
 * GETEX from argv[from]: the option bits and the expire argument, or
 * undefined after "-ERR syntax error".
 */
function parseSetOptions(
  argv: Uint8Array[],
  from: number,
  forSet: boolean,
  out: OutputWriter,
): { flags: number; expire?: Uint8Array } | undefined {
  let flags = 0;
  let expire: Uint8Array | undefined;
  for (let j = from; j < argv.length; j++) {
    const a = argv[j];
    const hasNext = j + 1 < argv.length;
    if (forSet && isWord(a, "nx") && !(flags & Opt.XX)) flags |= Opt.NX;
    else if (forSet && isWord(a, "xx") && !(flags & Opt.NX)) flags |= Opt.XX;
    else if (forSet && isWord(a, "get")) flags |= Opt.GET;
    else if (forSet && isWord(a, "keepttl") && !(flags & (Opt.PERSIST | EXPIRES))) {
      flags |= Opt.KEEPTTL;
    } else if (!forSet && isWord(a, "persist") && !(flags & (EXPIRES | Opt.KEEPTTL))) {
      flags |= Opt.PERSIST;
    } else if (hasNext && !(flags & (Opt.KEEPTTL | Opt.PERSIST))) {
      const unit = isWord(a, "ex")
        ? Opt.EX
        : isWord(a, "px")
        ? Opt.PX
        : isWord(a, "exat")
        ? Opt.EXAT
        : isWord(a, "pxat")
        ? Opt.PXAT
        : 0;
      // The same unit again replaces the deadline (the last wins, unchecked
      // before); another unit is a syntax error, as in Redis 7.0.
      if (unit === 0 || (flags & EXPIRES & ~unit) !== 0) return syntax(out);
      flags |= unit;
      expire = argv[++j];
    } else {
      return syntax(out);
    }
  }
  return { flags, expire };
}

function syntax(out: OutputWriter): undefined {
  out.raw(R_SYNTAX);
  return undefined;
}

/**
 * An expire argument as an absolute Unix ms deadline (Redis's
 * getExpireMillisecondsOrReply), or undefined after the error naming
 * `command`.
 */
export function expireDeadline(
  c: Context,
  arg: Uint8Array,
  unit: "s" | "ms",
  absolute: boolean,
  out: OutputWriter,
): number | undefined {
  const v = parseInt64(arg);
  if (v === undefined) {
    out.raw(R_NOT_INTEGER);
    return undefined;
  }
  const invalid = () => {
    out.error(`ERR invalid expire time in '${c.spec.name}' command`);
    return undefined;
  };
  if (v <= 0 || (unit === "s" && v > MS_MAX / 1000)) return invalid();
  let ms = unit === "s" ? v * 1000 : v;
  if (!absolute) {
    ms += c.ks.now;
    if (ms > MS_MAX) return invalid();
  }
  return ms;
}

function get(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const v = stringOrReply(c, argv[1], out);
  if (v === null) out.raw(R_NULL);
  else if (v !== undefined) out.bulk(v);
}

/** The string at `key`: bytes, null when missing, undefined after WRONGTYPE. */
function stringOrReply(
  c: Context,
  key: Uint8Array,
  out: OutputWriter,
): Uint8Array | null | undefined {
  const db = c.session.db;
  const t = c.ks.type(db, key);
  if (t === undefined) return null;
  if (t !== "string") {
    out.raw(R_WRONGTYPE);
    return undefined;
  }
  return c.ks.getString(db, key) ?? null;
}

function set(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const opts = parseSetOptions(argv, 3, true, out);
  if (opts === undefined) return;
  const { flags, expire } = opts;
  let at: number | undefined;
  if (expire !== undefined) {
    at = expireDeadline(
      c,
      expire,
      flags & (Opt.EX | Opt.EXAT) ? "s" : "ms",
      (flags & (Opt.EXAT | Opt.PXAT)) !== 0,
      out,
    );
    if (at === undefined) return;
  }
  const db = c.session.db;
  const key = argv[1];
  let old: Uint8Array | null = null;
  if (flags & Opt.GET) {
    const v = stringOrReply(c, key, out);
    if (v === undefined) return;
    old = v;
  }
  const found = c.ks.type(db, key) !== undefined;
  if ((flags & Opt.NX && found) || (flags & Opt.XX && !found)) {
    if (flags & Opt.GET) replyMaybe(old, out);
    else out.raw(R_NULL);
    return;
  }
  c.ks.setString(db, key, argv[2], { keepTtl: (flags & Opt.KEEPTTL) !== 0, expireAt: at });
  if (flags & Opt.GET) replyMaybe(old, out);
  else out.raw(R_OK);
}

function replyMaybe(v: Uint8Array | null, out: OutputWriter): void {
  if (v === null) out.raw(R_NULL);
  else out.bulk(v);
}

function setnx(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const db = c.session.db;
  if (c.ks.type(db, argv[1]) !== undefined) return out.raw(R_ZERO);
  c.ks.setString(db, argv[1], argv[2]);
  out.raw(R_ONE);
}

function setexWith(unit: "s" | "ms") {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    const at = expireDeadline(c, argv[2], unit, false, out);
    if (at === undefined) return;
    c.ks.setString(c.session.db, argv[1], argv[3], { expireAt: at });
    out.raw(R_OK);
  };
}

function getset(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const old = stringOrReply(c, argv[1], out);
  if (old === undefined) return;
  c.ks.setString(c.session.db, argv[1], argv[2]);
  replyMaybe(old, out);
}

function getdel(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const old = stringOrReply(c, argv[1], out);
  if (old === undefined) return;
  if (old !== null) c.ks.delete(c.session.db, argv[1]);
  replyMaybe(old, out);
}

function getex(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const opts = parseSetOptions(argv, 2, false, out);
  if (opts === undefined) return;
  const { flags, expire } = opts;
  // Redis 7.0 looks the key up before it checks the expire time
  const db = c.session.db;
  const v = stringOrReply(c, argv[1], out);
  if (v === undefined) return;
  if (v === null) return out.raw(R_NULL);
  if (expire !== undefined) {
    const at = expireDeadline(
      c,
      expire,
      flags & (Opt.EX | Opt.EXAT) ? "s" : "ms",
      (flags & (Opt.EXAT | Opt.PXAT)) !== 0,
      out,
    );
    if (at === undefined) return;
    if (at <= c.ks.now) c.ks.delete(db, argv[1]);
    else c.ks.setExpireAt(db, argv[1], at);
  } else if (flags & Opt.PERSIST) {
    c.ks.setExpireAt(db, argv[1], undefined);
  }
  out.bulk(v);
}

function mget(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const db = c.session.db;
  out.arrayHeader(argv.length - 1);
  for (let i = 1; i < argv.length; i++) {
    const v = c.ks.type(db, argv[i]) === "string" ? c.ks.getString(db, argv[i]) : undefined;
    if (v === undefined) out.raw(R_NULL);
    else out.bulk(v);
  }
}

function arityError(c: Context, out: OutputWriter): void {
  out.error(`ERR wrong number of arguments for '${c.spec.name}' command`);
}

function mset(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length % 2 === 0) return arityError(c, out);
  const db = c.session.db;
  for (let i = 1; i < argv.length; i += 2) c.ks.setString(db, argv[i], argv[i + 1]);
  out.raw(R_OK);
}

function msetnx(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length % 2 === 0) return arityError(c, out);
  const db = c.session.db;
  for (let i = 1; i < argv.length; i += 2) {
    if (c.ks.type(db, argv[i]) !== undefined) return out.raw(R_ZERO);
  }
  for (let i = 1; i < argv.length; i += 2) c.ks.setString(db, argv[i], argv[i + 1]);
  out.raw(R_ONE);
}

function checkLength(c: Context, total: number, out: OutputWriter): boolean {
  if (total > protoMaxBulkLen(c.host)) {
    out.raw(R_TOO_BIG);
    return false;
  }
  return true;
}

function append(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const db = c.session.db;
  const t = typeIs(c, argv[1], "string", out);
  if (t === undefined) return;
  if (t !== "none" && !checkLength(c, c.ks.stringLength(db, argv[1]) + argv[2].length, out)) return;
  out.integer(c.ks.appendString(db, argv[1], argv[2]));
}

function strlen(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (typeIs(c, argv[1], "string", out) === undefined) return;
  out.integer(c.ks.stringLength(c.session.db, argv[1]));
}

function getrange(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  let start = intArg(argv[2], out);
  if (start === undefined) return;
  let end = intArg(argv[3], out);
  if (end === undefined) return;
  const v = stringOrReply(c, argv[1], out);
  if (v === undefined) return;
  if (v === null) return out.raw(R_EMPTY_BULK);
  const len = v.length;
  if (start < 0 && end < 0 && start > end) return out.raw(R_EMPTY_BULK);
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len === 0) return out.raw(R_EMPTY_BULK);
  out.bulk(v.subarray(start, end + 1));
}

function setrange(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const offset = intArg(argv[2], out);
  if (offset === undefined) return;
  if (offset < 0) return out.error("ERR offset is out of range");
  const db = c.session.db;
  const value = argv[3];
  const t = typeIs(c, argv[1], "string", out);
  if (t === undefined) return;
  if (t === "none") {
    if (value.length === 0) return out.raw(R_ZERO);
  } else if (value.length === 0) {
    return out.integer(c.ks.stringLength(db, argv[1]));
  }
  if (!checkLength(c, offset + value.length, out)) return;
  out.integer(c.ks.setRange(db, argv[1], offset, value));
}

/** The decimal digits of `v`; safe integers are written digit by digit, building no string. */
function integerBytes(v: number | bigint): Uint8Array {
  if (typeof v === "bigint") return bytes(v.toString());
  const neg = v < 0;
  let n = neg ? -v : v;
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  const b = new Uint8Array(digits + (neg ? 1 : 0));
  if (neg) b[0] = 0x2d;
  for (let i = b.length - 1; i >= (neg ? 1 : 0); i--) {
    b[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return b;
}

function incrBy(c: Context, key: Uint8Array, by: number | bigint, out: OutputWriter): void {
  const db = c.session.db;
  const cur = stringOrReply(c, key, out);
  if (cur === undefined) return;
  let next: number | bigint;
  if (cur === null) {
    next = by;
  } else {
    const fast = cur.length <= 15 && typeof by === "number" && Math.abs(by) < 1e15;
    if (fast) {
      const v = parseInt64(cur);
      if (v === undefined) return out.raw(R_NOT_INTEGER);
      next = v + (by as number);
    } else {
      const v = parseInt64Exact(cur);
      if (v === undefined) return out.raw(R_NOT_INTEGER);
      const sum = v + BigInt(by);
      if (sum > INT64_MAX || sum < INT64_MIN) return out.raw(R_OVERFLOW);
      next = sum;
    }
  }
  if (typeof next === "bigint" && next >= -(2n ** 53n) && next <= 2n ** 53n) next = Number(next);
  c.ks.setString(db, key, integerBytes(next), { keepTtl: true });
  out.integer(next);
}

/** The increment argument: a number when exact, else a bigint; undefined after the error. */
function incrementArg(b: Uint8Array, out: OutputWriter): number | bigint | undefined {
  if (b.length <= 15) return intArg(b, out);
  const v = parseInt64Exact(b);
  if (v === undefined) out.raw(R_NOT_INTEGER);
  return v;
}

function incr(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  incrBy(c, argv[1], 1, out);
}

function decr(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  incrBy(c, argv[1], -1, out);
}

function incrby(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const by = incrementArg(argv[2], out);
  if (by !== undefined) incrBy(c, argv[1], by, out);
}

function decrby(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const by = incrementArg(argv[2], out);
  if (by === undefined) return;
  if (by === INT64_MIN) return out.error("ERR decrement would overflow");
  incrBy(c, argv[1], typeof by === "bigint" ? -by : -by, out);
}

function incrbyfloat(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const cur = stringOrReply(c, argv[1], out);
  if (cur === undefined) return;
  const r = incrByFloat(cur ?? undefined, argv[2]);
  if ("error" in r) {
    if (r.error === "not-float") return out.raw(R_NOT_FLOAT);
    return out.error("ERR increment would produce NaN or Infinity");
  }
  const v = bytes(r.value);
  c.ks.setString(c.session.db, argv[1], v, { keepTtl: true });
  out.bulk(v);
}

/** The string commands' table entries. */
export const STRING_COMMANDS: CommandSpec[] = [
  spec("get", 2, "readonly fast", 1, 1, 1, "@read @string @fast", get),
  spec("set", -3, "write denyoom", 1, 1, 1, "@write @string @slow", set),
  spec("setnx", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", setnx),
  spec("setex", 4, "write denyoom", 1, 1, 1, "@write @string @slow", setexWith("s")),
  spec("psetex", 4, "write denyoom", 1, 1, 1, "@write @string @slow", setexWith("ms")),
  spec("getset", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", getset),
  spec("getdel", 2, "write fast", 1, 1, 1, "@write @string @fast", getdel),
  spec("getex", -2, "write fast", 1, 1, 1, "@write @string @fast", getex),
  spec("mget", -2, "readonly fast", 1, -1, 1, "@read @string @fast", mget),
  spec("mset", -3, "write denyoom", 1, -1, 2, "@write @string @slow", mset),
  spec("msetnx", -3, "write denyoom", 1, -1, 2, "@write @string @slow", msetnx),
  spec("append", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", append),
  spec("strlen", 2, "readonly fast", 1, 1, 1, "@read @string @fast", strlen),
  spec("getrange", 4, "readonly", 1, 1, 1, "@read @string @slow", getrange),
  spec("setrange", 4, "write denyoom", 1, 1, 1, "@write @string @slow", setrange),
  spec("incr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast", incr),
  spec("incrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", incrby),
  spec("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", incrbyfloat),
  spec("decr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast", decr),
  spec("decrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", decrby),
];
