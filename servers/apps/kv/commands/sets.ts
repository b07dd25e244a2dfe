/**
 * Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SCARD, SPOP (with
 * count), as Redis 7.0 answers them.
 *
 * @module
 */

import type { OutputWriter } from "../resp.ts";
import {
  type CommandSpec,
  type Context,
  R_EMPTY_ARRAY,
  R_NULL,
  R_ONE,
  R_SYNTAX,
  R_ZERO,
  spec,
  typeIs,
} from "./context.ts";
import { positiveArg } from "./lists.ts";

function sadd(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (typeIs(c, argv[1], "set", out) === undefined) return;
  let n = 0;
  for (let i = 2; i < argv.length; i++) if (c.ks.setAdd(c.session.db, argv[1], argv[i])) n++;
  out.integer(n);
}

function srem(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "set", out);
  if (t === undefined) return;
  let n = 0;
  if (t !== "none") {
    for (let i = 2; i < argv.length; i++) {
      if (c.ks.setRemove(c.session.db, argv[1], argv[i])) n++;
      if (c.ks.type(c.session.db, argv[1]) === undefined) break;
    }
  }
  out.integer(n);
}

function smembers(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "set", out);
  if (t === undefined) return;
  if (t === "none") return out.raw(R_EMPTY_ARRAY);
  out.bulkArray(c.ks.setMembers(c.session.db, argv[1]));
}

function sismember(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "set", out);
  if (t === undefined) return;
  out.raw(t !== "none" && c.ks.setHas(c.session.db, argv[1], argv[2]) ? R_ONE : R_ZERO);
}

function scard(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "set", out);
  if (t === undefined) return;
  out.integer(t === "none" ? 0 : c.ks.setSize(c.session.db, argv[1]));
}

function spop(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length > 3) return out.raw(R_SYNTAX);
  if (argv.length === 3) {
    const count = positiveArg(argv[2], out);
    if (count === undefined) return;
    const t = typeIs(c, argv[1], "set", out);
    if (t === undefined) return;
    if (t === "none" || count === 0) return out.raw(R_EMPTY_ARRAY);
    return out.bulkArray(c.ks.setPop(c.session.db, argv[1], count));
  }
  const t = typeIs(c, argv[1], "set", out);
  if (t === undefined) return;
  if (t === "none") return out.raw(R_NULL);
  out.bulk(c.ks.setPop(c.session.db, argv[1], 1)[0]);
}

/** The set commands' table entries. */
export const SET_COMMANDS: CommandSpec[] = [
  spec("sadd", -3, "write denyoom fast", 1, 1, 1, "@write @set @fast", sadd),
  spec("srem", -3, "write fast", 1, 1, 1, "@write @set @fast", srem),
  spec("smembers", 2, "readonly", 1, 1, 1, "@read @set @slow", smembers),
  spec("sismember", 3, "readonly fast", 1, 1, 1, "@read @set @fast", sismember),
  spec("scard", 2, "readonly fast", 1, 1, 1, "@read @set @fast", scard),
  spec("spop", -2, "write fast", 1, 1, 1, "@write @set @fast", spop),
];
