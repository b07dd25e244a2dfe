/**
 * Sorted-set commands: ZADD (NX, XX, GT, LT, CH, INCR), ZINCRBY, ZSCORE,
 * ZRANGE (by rank, BYSCORE, BYLEX, REV, LIMIT, WITHSCORES), ZCARD, ZREM,
 * ZPOPMIN, as Redis 7.0 answers them. Scores are bulk strings formatted
 * as "%.17g" (RESP2).
 *
 * @module
 */

import type { OutputWriter } from "../resp.ts";
import {
  type CommandSpec,
  type Context,
  intArg,
  isWord,
  normaliseRange,
  R_EMPTY_ARRAY,
  R_NOT_FLOAT,
  R_NULL,
  R_SYNTAX,
  spec,
  typeIs,
} from "./context.ts";
import { parseDouble } from "./float.ts";
import { positiveArg } from "./lists.ts";

const NX = 1;
const XX = 2;
const GT = 4;
const LT = 8;
const INCR = 16;

function zaddWith(forceIncr: boolean) {
  return (c: Context, argv: Uint8Array[], out: OutputWriter): void => {
    let flags = forceIncr ? INCR : 0;
    let ch = false;
    let i = 2;
    if (!forceIncr) {
      for (; i < argv.length; i++) {
        const a = argv[i];
        if (isWord(a, "nx")) flags |= NX;
        else if (isWord(a, "xx")) flags |= XX;
        else if (isWord(a, "ch")) ch = true;
        else if (isWord(a, "incr")) flags |= INCR;
        else if (isWord(a, "gt")) flags |= GT;
        else if (isWord(a, "lt")) flags |= LT;
        else break;
      }
    }
    const pairs = argv.length - i;
    if (pairs % 2 !== 0 || pairs === 0) return out.raw(R_SYNTAX);
    if (flags & NX && flags & XX) {
      return out.error("ERR XX and NX options at the same time are not compatible");
    }
    if ((flags & GT && flags & NX) || (flags & LT && flags & NX) || (flags & GT && flags & LT)) {
      return out.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if (flags & INCR && pairs > 2) {
      return out.error("ERR INCR option supports a single increment-element pair");
    }
    const scores: number[] = [];
    for (let j = i; j < argv.length; j += 2) {
      const s = parseDouble(argv[j]);
      if (s === undefined) return out.raw(R_NOT_FLOAT);
      scores.push(s);
    }
    const t = typeIs(c, argv[1], "zset", out);
    if (t === undefined) return;
    const db = c.session.db;
    let added = 0;
    let updated = 0;
    let processed = 0;
    let score = 0;
    if (!(t === "none" && flags & XX)) {
      for (let j = 0; j < scores.length; j++) {
        const member = argv[i + 1 + j * 2];
        const cur = c.ks.zsetScore(db, argv[1], member);
        let next = scores[j];
        if (cur !== undefined) {
          if (flags & NX) continue;
          if (flags & INCR) {
            next = cur + next;
            if (Number.isNaN(next)) return out.error("ERR resulting score is not a number (NaN)");
          }
          if ((flags & GT && next <= cur) || (flags & LT && next >= cur)) continue;
          processed++;
          score = next;
          if (next !== cur) {
            c.ks.zsetAdd(db, argv[1], member, next);
            updated++;
          }
        } else {
          if (flags & XX) continue;
          c.ks.zsetAdd(db, argv[1], member, next);
          added++;
          processed++;
          score = next;
        }
      }
    }
    if (flags & INCR) {
      if (processed) out.double(score);
      else out.raw(R_NULL);
    } else {
      out.integer(ch ? added + updated : added);
    }
  };
}

function zscore(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "zset", out);
  if (t === undefined) return;
  const s = t === "none" ? undefined : c.ks.zsetScore(c.session.db, argv[1], argv[2]);
  if (s === undefined) out.raw(R_NULL);
  else out.double(s);
}

function zcard(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "zset", out);
  if (t === undefined) return;
  out.integer(t === "none" ? 0 : c.ks.zsetSize(c.session.db, argv[1]));
}

function zrem(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  const t = typeIs(c, argv[1], "zset", out);
  if (t === undefined) return;
  let n = 0;
  if (t !== "none") {
    for (let i = 2; i < argv.length; i++) {
      if (c.ks.zsetRemove(c.session.db, argv[1], argv[i])) n++;
      if (c.ks.type(c.session.db, argv[1]) === undefined) break;
    }
  }
  out.integer(n);
}

function zpopmin(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  if (argv.length > 3) return out.raw(R_SYNTAX);
  let count = 1;
  if (argv.length === 3) {
    const n = positiveArg(argv[2], out);
    if (n === undefined) return;
    count = n;
  }
  const t = typeIs(c, argv[1], "zset", out);
  if (t === undefined) return;
  if (t === "none" || count === 0) return out.raw(R_EMPTY_ARRAY);
  const popped = c.ks.zsetPopMin(c.session.db, argv[1], count);
  out.arrayHeader(popped.length * 2);
  for (const [m, s] of popped) {
    out.bulk(m);
    out.double(s);
  }
}

/** A score bound of BYSCORE: value and whether it is exclusive "(x". */
interface ScoreBound {
  value: number;
  exclusive: boolean;
}

function scoreBound(b: Uint8Array): ScoreBound | undefined {
  const exclusive = b.length > 0 && b[0] === 0x28;
  const v = parseDouble(exclusive ? b.subarray(1) : b);
  return v === undefined ? undefined : { value: v, exclusive };
}

/** A lex bound of BYLEX: "-", "+", "[x" or "(x". */
type LexBound = "-" | "+" | { bytes: Uint8Array; exclusive: boolean };

function lexBound(b: Uint8Array): LexBound | undefined {
  if (b.length === 1 && b[0] === 0x2d) return "-";
  if (b.length === 1 && b[0] === 0x2b) return "+";
  if (b.length > 0 && (b[0] === 0x28 || b[0] === 0x5b)) {
    return { bytes: b.subarray(1), exclusive: b[0] === 0x28 };
  }
  return undefined;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function aboveMin(m: Uint8Array, min: LexBound): boolean {
  if (min === "-") return true;
  if (min === "+") return false;
  const d = compareBytes(m, min.bytes);
  return min.exclusive ? d > 0 : d >= 0;
}

function belowMax(m: Uint8Array, max: LexBound): boolean {
  if (max === "+") return true;
  if (max === "-") return false;
  const d = compareBytes(m, max.bytes);
  return max.exclusive ? d < 0 : d <= 0;
}

function zrange(c: Context, argv: Uint8Array[], out: OutputWriter): void {
  let withScores = false;
  let offset = 0;
  let limit = -1;
  let rev = false;
  let revSeen = false;
  let by: "rank" | "score" | "lex" | undefined;
  for (let j = 4; j < argv.length; j++) {
    const a = argv[j];
    const left = argv.length - j - 1;
    if (isWord(a, "withscores")) withScores = true;
    else if (isWord(a, "limit") && left >= 2) {
      const o = intArg(argv[j + 1], out);
      if (o === undefined) return;
      const l = intArg(argv[j + 2], out);
      if (l === undefined) return;
      offset = o;
      limit = l;
      j += 2;
    } else if (!revSeen && isWord(a, "rev")) rev = revSeen = true;
    else if (by === undefined && isWord(a, "bylex")) by = "lex";
    else if (by === undefined && isWord(a, "byscore")) by = "score";
    else return out.raw(R_SYNTAX);
  }
  by ??= "rank";
  if (limit !== -1 && by === "rank") {
    return out.error(
      "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
    );
  }
  if (withScores && by === "lex") {
    return out.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  let minArg = argv[2];
  let maxArg = argv[3];
  if (rev && by !== "rank") [minArg, maxArg] = [maxArg, minArg];
  const db = c.session.db;
  if (by === "rank") {
    const start = intArg(minArg, out);
    if (start === undefined) return;
    const stop = intArg(maxArg, out);
    if (stop === undefined) return;
    const t = typeIs(c, argv[1], "zset", out);
    if (t === undefined) return;
    if (t === "none") return out.raw(R_EMPTY_ARRAY);
    const len = c.ks.zsetSize(db, argv[1]);
    const range = normaliseRange(start, stop, len);
    if (range === undefined) return out.raw(R_EMPTY_ARRAY);
    const items = rev
      ? c.ks.zsetRange(db, argv[1], len - 1 - range[1], len - 1 - range[0]).reverse()
      : c.ks.zsetRange(db, argv[1], range[0], range[1]);
    return replyRange(items, withScores, out);
  }
  let keep: (m: Uint8Array, s: number) => boolean;
  if (by === "score") {
    const min = scoreBound(minArg);
    const max = scoreBound(maxArg);
    if (min === undefined || max === undefined) return out.error("ERR min or max is not a float");
    keep = (_m, s) =>
      (min.exclusive ? s > min.value : s >= min.value) &&
      (max.exclusive ? s < max.value : s <= max.value);
  } else {
    const min = lexBound(minArg);
    const max = lexBound(maxArg);
    if (min === undefined || max === undefined) {
      return out.error("ERR min or max not valid string range item");
    }
    keep = (m) => aboveMin(m, min) && belowMax(m, max);
  }
  const t = typeIs(c, argv[1], "zset", out);
  if (t === undefined) return;
  if (t === "none") return out.raw(R_EMPTY_ARRAY);
  const len = c.ks.zsetSize(db, argv[1]);
  let items = c.ks.zsetRange(db, argv[1], 0, len - 1).filter(([m, s]) => keep(m, s));
  if (rev) items.reverse();
  if (offset < 0) items = [];
  else items = items.slice(offset, limit < 0 ? undefined : offset + limit);
  replyRange(items, withScores, out);
}

function replyRange(items: Array<[Uint8Array, number]>, withScores: boolean, out: OutputWriter) {
  out.arrayHeader(items.length * (withScores ? 2 : 1));
  for (const [m, s] of items) {
    out.bulk(m);
    if (withScores) out.double(s);
  }
}

/** The sorted-set commands' table entries. */
export const ZSET_COMMANDS: CommandSpec[] = [
  spec("zadd", -4, "write denyoom fast", 1, 1, 1, "@write @sortedset @fast", zaddWith(false)),
  spec("zscore", 3, "readonly fast", 1, 1, 1, "@read @sortedset @fast", zscore),
  spec("zrange", -4, "readonly", 1, 1, 1, "@read @sortedset @slow", zrange),
  spec("zcard", 2, "readonly fast", 1, 1, 1, "@read @sortedset @fast", zcard),
  spec("zrem", -3, "write fast", 1, 1, 1, "@write @sortedset @fast", zrem),
  spec("zpopmin", -2, "write fast", 1, 1, 1, "@write @sortedset @fast", zpopmin),
  spec("zincrby", 4, "write denyoom fast", 1, 1, 1, "@write @sortedset @fast", zaddWith(true)),
];
