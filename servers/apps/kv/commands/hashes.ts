/**
 * Hash commands: HSET, HMSET, HSETNX, HGET, HMGET, HDEL, HGETALL, HLEN,
 * HEXISTS, HKEYS, HVALS, HSTRLEN, HINCRBY, as Redis 7.0 answers them.
 *
 * @module
 */

import { INT64_MAX, INT64_MIN, type OutputWriter, parseInt64Exact } from "../resp.ts";
import {
  bytes,
  type CommandSpec,
  type Context,
  R_EMPTY_ARRAY,
  R_NOT_INTEGER,
  R_NULL,
  R_OK,
  R_ONE,
  R_OVERFLOW,
  R_ZERO,
  spec,
  typeIs,
} from "./context.ts";

function hsetWith(okReply: boolean) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    if (argv.length % 2 === 1) {
      return out.error(`ERR wrong number of arguments for '${c.spec.name}' command`);
    }
    if (typeIs(c, argv[1], "hash", out) === undefined) return;
    let created = 0;
    for (let i = 2; i < argv.length; i += 2) {
      if (c.ks.hashSet(c.session.db, argv[1], argv[i], argv[i + 1])) created++;
    }
    if (okReply) out.raw(R_OK);
    else out.integer(created);
  };
}

function hsetnx(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  const db = c.session.db;
  if (t !== "none" && c.ks.hashGet(db, argv[1], argv[2]) !== undefined) return out.raw(R_ZERO);
  c.ks.hashSet(db, argv[1], argv[2], argv[3]);
  out.raw(R_ONE);
}

function hget(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  const v = t === "none" ? undefined : c.ks.hashGet(c.session.db, argv[1], argv[2]);
  if (v === undefined) out.raw(R_NULL);
  else out.bulk(v);
}

function hmget(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  out.arrayHeader(argv.length - 2);
  for (let i = 2; i < argv.length; i++) {
    const v = t === "none" ? undefined : c.ks.hashGet(c.session.db, argv[1], argv[i]);
    if (v === undefined) out.raw(R_NULL);
    else out.bulk(v);
  }
}

function hdel(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  let n = 0;
  if (t !== "none") {
    for (let i = 2; i < argv.length; i++) {
      if (c.ks.hashDelete(c.session.db, argv[1], argv[i])) n++;
      if (c.ks.type(c.session.db, argv[1]) === undefined) break;
    }
  }
  out.integer(n);
}

function hgetallWith(fields: boolean, values: boolean) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    const t = typeIs(c, argv[1], "hash", out);
    if (t === undefined) return;
    if (t === "none") return out.raw(R_EMPTY_ARRAY);
    const entries = c.ks.hashEntries(c.session.db, argv[1]);
    out.arrayHeader(entries.length * ((fields ? 1 : 0) + (values ? 1 : 0)));
    for (const [f, v] of entries) {
      if (fields) out.bulk(f);
      if (values) out.bulk(v);
    }
  };
}

function hlen(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  out.integer(t === "none" ? 0 : c.ks.hashLength(c.session.db, argv[1]));
}

function hexists(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  const has = t !== "none" && c.ks.hashGet(c.session.db, argv[1], argv[2]) !== undefined;
  out.raw(has ? R_ONE : R_ZERO);
}

function hstrlen(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  const v = t === "none" ? undefined : c.ks.hashGet(c.session.db, argv[1], argv[2]);
  out.integer(v === undefined ? 0 : v.length);
}

function hincrby(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const by = parseInt64Exact(argv[3]);
  if (by === undefined) return out.raw(R_NOT_INTEGER);
  const t = typeIs(c, argv[1], "hash", out);
  if (t === undefined) return;
  const db = c.session.db;
  const cur = t === "none" ? undefined : c.ks.hashGet(db, argv[1], argv[2]);
  let v = 0n;
  if (cur !== undefined) {
    const parsed = parseInt64Exact(cur);
    if (parsed === undefined) return out.error("ERR hash value is not an integer");
    v = parsed;
  }
  const next = v + by;
  if (next > INT64_MAX || next < INT64_MIN) return out.raw(R_OVERFLOW);
  c.ks.hashSet(db, argv[1], argv[2], bytes(next.toString()));
  out.integer(next);
}

/** The hash commands' table entries. */
export const HASH_COMMANDS: CommandSpec[] = [
  spec("hset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", hsetWith(false)),
  spec("hget", 3, "readonly fast", 1, 1, 1, "@read @hash @fast", hget),
  spec("hmget", -3, "readonly fast", 1, 1, 1, "@read @hash @fast", hmget),
  spec("hdel", -3, "write fast", 1, 1, 1, "@write @hash @fast", hdel),
  spec("hgetall", 2, "readonly", 1, 1, 1, "@read @hash @slow", hgetallWith(true, true)),
  spec("hlen", 2, "readonly fast", 1, 1, 1, "@read @hash @fast", hlen),
  spec("hincrby", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", hincrby),
  spec("hmset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", hsetWith(true)),
  spec("hsetnx", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", hsetnx),
  spec("hexists", 3, "readonly fast", 1, 1, 1, "@read @hash @fast", hexists),
  spec("hkeys", 2, "readonly", 1, 1, 1, "@read @hash @slow", hgetallWith(true, false)),
  spec("hvals", 2, "readonly", 1, 1, 1, "@read @hash @slow", hgetallWith(false, true)),
  spec("hstrlen", 3, "readonly fast", 1, 1, 1, "@read @hash @fast", hstrlen),
];
