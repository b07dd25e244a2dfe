/**
 * Keyspace and expiry commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN
 * (MATCH, COUNT, TYPE), RANDOMKEY, RENAME, RENAMENX, COPY, MOVE, EXPIRE,
 * PEXPIRE, EXPIREAT, PEXPIREAT (NX, XX, GT, LT), TTL, PTTL, EXPIRETIME,
 * PEXPIRETIME, PERSIST, as Redis 7.0 answers them.
 *
 * @module
 */

import { DATABASES } from "../keyspace.ts";
import { type OutputWriter, parseInt64 } from "../resp.ts";
import {
  bytes,
  type CommandSpec,
  type Context,
  errorArg,
  intArg,
  isWord,
  R_DB_RANGE,
  R_NO_SUCH_KEY,
  R_NOT_INTEGER,
  R_NULL,
  R_OK,
  R_ONE,
  R_SAME_OBJECT,
  R_SYNTAX,
  R_ZERO,
  spec,
  text,
} from "./context.ts";
import { globMatch } from "./glob.ts";

/** Keys one KEYS step asks the keyspace for. */
const KEYS_SCAN_STEP = 1024;
/** Default SCAN COUNT. */
const SCAN_COUNT_DEFAULT = 10;
/** Largest millisecond count (LLONG_MAX). */
const MS_MAX = 9223372036854775807;

function del(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) if (c.ks.delete(c.session.db, argv[i])) n++;
  out.integer(n);
}

function exists(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  let n = 0;
  for (let i = 1; i < argv.length; i++) if (c.ks.type(c.session.db, argv[i]) !== undefined) n++;
  out.integer(n);
}

const TYPE_REPLIES = {
  none: bytes("+none\r\n"),
  string: bytes("+string\r\n"),
  list: bytes("+list\r\n"),
  hash: bytes("+hash\r\n"),
  set: bytes("+set\r\n"),
  zset: bytes("+zset\r\n"),
};

function type(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  out.raw(TYPE_REPLIES[c.ks.type(c.session.db, argv[1]) ?? "none"]);
}

function isStarOnly(p: Uint8Array): boolean {
  return p.length === 1 && p[0] === 0x2a;
}

function keys(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const db = c.session.db;
  const all = isStarOnly(argv[1]);
  let found: Uint8Array[] = [];
  let cursor = 0;
  do {
    // Keys past their deadline are skipped but stay until touched, as Redis's KEYS leaves them
    const step = c.ks.scan(db, cursor, KEYS_SCAN_STEP, false);
    for (const k of step.keys) if (all || globMatch(argv[1], k)) found.push(k);
    cursor = step.cursor;
  } while (cursor !== 0);
  // a scan may give a key twice while the table resizes; KEYS gives each once
  if (found.length > c.ks.size(db)) found = unique(found);
  out.bulkArray(found);
}

/** One string per byte sequence (windows-1252 maps every byte to its own character). */
const byteText = new TextDecoder("latin1");

function unique(keys: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    const id = byteText.decode(k);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** SCAN's cursor: strtoul's reading (optional sign, digits), or undefined. */
function parseCursor(b: Uint8Array): number | undefined {
  if (b.length === 0) return undefined;
  let p = 0;
  let neg = false;
  if (b[0] === 0x2b || b[0] === 0x2d) {
    neg = b[0] === 0x2d;
    p++;
  }
  if (p === b.length) return undefined;
  let v = 0n;
  for (; p < b.length; p++) {
    if (b[p] < 0x30 || b[p] > 0x39) return undefined;
    v = v * 10n + BigInt(b[p] - 0x30);
    if (v >= 1n << 64n) return undefined;
  }
  if (neg && v !== 0n) v = (1n << 64n) - v;
  return Number(v);
}

function scan(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const cursor = parseCursor(argv[1]);
  if (cursor === undefined) return out.error("ERR invalid cursor");
  let count = SCAN_COUNT_DEFAULT;
  let pattern: Uint8Array | undefined;
  let typeName: string | undefined;
  for (let i = 2; i < argv.length;) {
    const left = argv.length - i;
    if (isWord(argv[i], "count") && left >= 2) {
      const n = intArg(argv[i + 1], out);
      if (n === undefined) return;
      if (n < 1) return out.raw(R_SYNTAX);
      count = n;
    } else if (isWord(argv[i], "match") && left >= 2) {
      pattern = isStarOnly(argv[i + 1]) ? undefined : argv[i + 1];
    } else if (isWord(argv[i], "type") && left >= 2) {
      typeName = text(argv[i + 1]).toLowerCase();
    } else {
      return out.raw(R_SYNTAX);
    }
    i += 2;
  }
  const db = c.session.db;
  const step = c.ks.scan(db, cursor, count);
  const keys = step.keys.filter((k) => {
    if (pattern !== undefined && !globMatch(pattern, k)) return false;
    const t = c.ks.type(db, k); // drops a key whose deadline has passed, as Redis's SCAN does
    return t !== undefined && (typeName === undefined || t === typeName);
  });
  out.arrayHeader(2);
  out.bulkString(String(step.cursor));
  out.bulkArray(keys);
}

function randomkey(c: Context, _argv: Uint8Array[], out: OutputWriter): void {
  const k = c.ks.randomKey(c.session.db);
  if (k === undefined) out.raw(R_NULL);
  else out.bulk(k);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function renameWith(nx: boolean) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    const db = c.session.db;
    if (c.ks.type(db, argv[1]) === undefined) return out.raw(R_NO_SUCH_KEY);
    if (sameBytes(argv[1], argv[2])) return out.raw(nx ? R_ZERO : R_OK);
    if (nx && c.ks.type(db, argv[2]) !== undefined) return out.raw(R_ZERO);
    c.ks.rename(db, argv[1], argv[2]);
    out.raw(nx ? R_ONE : R_OK);
  };
}

/** A DB index argument: getIntFromObjectOrReply then the range check; undefined after the error. */
function dbArg(b: Uint8Array, out: OutputWriter): number | undefined {
  const v = parseInt64(b);
  if (v === undefined || v < -2147483648 || v > 2147483647) {
    out.raw(R_NOT_INTEGER);
    return undefined;
  }
  if (v < 0 || v >= DATABASES) {
    out.raw(R_DB_RANGE);
    return undefined;
  }
  return v;
}

function copy(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const src = c.session.db;
  let dst = src;
  let replace = false;
  for (let j = 3; j < argv.length; j++) {
    if (isWord(argv[j], "replace")) {
      replace = true;
    } else if (isWord(argv[j], "db") && argv.length - j - 1 >= 1) {
      const d = dbArg(argv[j + 1], out);
      if (d === undefined) return;
      dst = d;
      j++;
    } else {
      return out.raw(R_SYNTAX);
    }
  }
  if (src === dst && sameBytes(argv[1], argv[2])) return out.raw(R_SAME_OBJECT);
  if (c.ks.type(src, argv[1]) === undefined) return out.raw(R_ZERO);
  out.raw(c.ks.copy(src, argv[1], dst, argv[2], replace) ? R_ONE : R_ZERO);
}

function move(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const dst = dbArg(argv[2], out);
  if (dst === undefined) return;
  const src = c.session.db;
  if (src === dst) return out.raw(R_SAME_OBJECT);
  if (c.ks.type(src, argv[1]) === undefined) return out.raw(R_ZERO);
  if (c.ks.type(dst, argv[1]) !== undefined) return out.raw(R_ZERO);
  c.ks.copy(src, argv[1], dst, argv[1], false);
  c.ks.delete(src, argv[1]);
  out.raw(R_ONE);
}

const NX = 1;
const XX = 2;
const GT = 4;
const LT = 8;

/** EXPIRE's NX/XX/GT/LT from argv[3] on; undefined after the error. */
function expireFlags(argv: Uint8Array[], out: OutputWriter): number | undefined {
  let flags = 0;
  for (let j = 3; j < argv.length; j++) {
    const a = argv[j];
    if (isWord(a, "nx")) flags |= NX;
    else if (isWord(a, "xx")) flags |= XX;
    else if (isWord(a, "gt")) flags |= GT;
    else if (isWord(a, "lt")) flags |= LT;
    else {
      out.error(`ERR Unsupported option ${errorArg(a)}`);
      return undefined;
    }
  }
  if (flags & NX && flags & (XX | GT | LT)) {
    out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    return undefined;
  }
  if (flags & GT && flags & LT) {
    out.error("ERR GT and LT options at the same time are not compatible");
    return undefined;
  }
  return flags;
}

function expireWith(unit: "s" | "ms", absolute: boolean) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    const flags = expireFlags(argv, out);
    if (flags === undefined) return;
    let when = intArg(argv[2], out);
    if (when === undefined) return;
    const invalid = () => out.error(`ERR invalid expire time in '${c.spec.name}' command`);
    if (unit === "s") {
      if (when > MS_MAX / 1000 || when < -MS_MAX / 1000) return invalid();
      when *= 1000;
    }
    const base = absolute ? 0 : c.ks.now;
    if (when > MS_MAX - base) return invalid();
    when += base;
    const db = c.session.db;
    const key = argv[1];
    if (c.ks.type(db, key) === undefined) return out.raw(R_ZERO);
    if (flags) {
      const cur = c.ks.expireAt(db, key);
      if (flags & NX && cur !== undefined) return out.raw(R_ZERO);
      if (flags & XX && cur === undefined) return out.raw(R_ZERO);
      if (flags & GT && (cur === undefined || when <= cur)) return out.raw(R_ZERO);
      if (flags & LT && cur !== undefined && when >= cur) return out.raw(R_ZERO);
    }
    if (when <= c.ks.now) c.ks.delete(db, key);
    else c.ks.setExpireAt(db, key, when);
    out.raw(R_ONE);
  };
}

const R_MINUS_TWO = bytes(":-2\r\n");
const R_MINUS_ONE = bytes(":-1\r\n");

function ttlWith(ms: boolean, absolute: boolean) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    const db = c.session.db;
    if (c.ks.type(db, argv[1]) === undefined) return out.raw(R_MINUS_TWO);
    const at = c.ks.expireAt(db, argv[1]);
    if (at === undefined) return out.raw(R_MINUS_ONE);
    if (absolute) return out.integer(ms ? at : Math.trunc(at / 1000));
    const left = Math.max(at - c.ks.now, 0);
    out.integer(ms ? left : Math.trunc((left + 500) / 1000));
  };
}

function persist(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const db = c.session.db;
  if (c.ks.expireAt(db, argv[1]) === undefined) return out.raw(R_ZERO);
  c.ks.setExpireAt(db, argv[1], undefined);
  out.raw(R_ONE);
}

/** The keyspace and expiry commands' table entries. */
export const KEY_COMMANDS: CommandSpec[] = [
  spec("del", -2, "write", 1, -1, 1, "@keyspace @write @slow", del),
  spec("unlink", -2, "write fast", 1, -1, 1, "@keyspace @write @fast", del),
  spec("exists", -2, "readonly fast", 1, -1, 1, "@keyspace @read @fast", exists),
  spec("type", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", type),
  spec("keys", 2, "readonly", 0, 0, 0, "@keyspace @read @slow @dangerous", keys),
  spec("scan", -2, "readonly", 0, 0, 0, "@keyspace @read @slow", scan),
  spec("randomkey", 1, "readonly", 0, 0, 0, "@keyspace @read @slow", randomkey),
  spec("rename", 3, "write", 1, 2, 1, "@keyspace @write @slow", renameWith(false)),
  spec("renamenx", 3, "write fast", 1, 2, 1, "@keyspace @write @fast", renameWith(true)),
  spec("copy", -3, "write denyoom", 1, 2, 1, "@keyspace @write @slow", copy),
  spec("move", 3, "write fast", 1, 1, 1, "@keyspace @write @fast", move),
  spec("expire", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", expireWith("s", false)),
  spec("pexpire", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", expireWith("ms", false)),
  spec("expireat", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", expireWith("s", true)),
  spec("pexpireat", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", expireWith("ms", true)),
  spec("ttl", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", ttlWith(false, false)),
  spec("pttl", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", ttlWith(true, false)),
  spec("expiretime", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", ttlWith(false, true)),
  spec("pexpiretime", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", ttlWith(true, true)),
  spec("persist", 2, "write fast", 1, 1, 1, "@keyspace @write @fast", persist),
];
