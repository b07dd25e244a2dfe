/**
 * Numbers as Redis 7.0 reads and writes them where doubles and long
 * doubles are involved:
 * - {@link parseDouble}: Redis's string2d (strtod, no leading blank, all
 *   bytes used, "inf" allowed, "nan" refused) for ZADD/ZINCRBY scores.
 * - {@link incrByFloat}: INCRBYFLOAT's arithmetic in x87 80-bit long
 *   double (64-bit mantissa, rounded to nearest even), emulated exactly
 *   with bigints, and its "%.17Lf" output with trailing zeros dropped, so
 *   `INCRBYFLOAT k 0.1` on "0.2" answers "0.3" as Redis on x86-64 does.
 *
 * @module
 */

/**
 * Checks the C float syntax Redis accepts: optional sign, then digits
 * with an optional point and exponent, or inf/infinity (any case).
 * Returns the decimal parts or "inf"; undefined for anything else.
 */
function scanDecimal(
  b: Uint8Array,
): { neg: boolean; digits: string; exp10: number } | { neg: boolean; inf: true } | undefined {
  let p = 0;
  const n = b.length;
  if (n === 0) return undefined;
  let neg = false;
  if (b[p] === 0x2b || b[p] === 0x2d) {
    neg = b[p] === 0x2d;
    p++;
  }
  const rest = n - p;
  if (rest === 3 || rest === 8) {
    let word = "";
    for (let i = p; i < n; i++) word += String.fromCharCode(b[i] | 0x20);
    if (word === "inf" || word === "infinity") return { neg, inf: true };
  }
  let digits = "";
  let exp10 = 0;
  let seen = false;
  while (p < n && b[p] >= 0x30 && b[p] <= 0x39) {
    digits += String.fromCharCode(b[p++]);
    seen = true;
  }
  if (p < n && b[p] === 0x2e) {
    p++;
    while (p < n && b[p] >= 0x30 && b[p] <= 0x39) {
      digits += String.fromCharCode(b[p++]);
      exp10--;
      seen = true;
    }
  }
  if (!seen) return undefined;
  if (p < n && (b[p] === 0x65 || b[p] === 0x45)) {
    let q = p + 1;
    let eneg = false;
    if (q < n && (b[q] === 0x2b || b[q] === 0x2d)) {
      eneg = b[q] === 0x2d;
      q++;
    }
    if (q < n && b[q] >= 0x30 && b[q] <= 0x39) {
      let e = 0;
      while (q < n && b[q] >= 0x30 && b[q] <= 0x39) {
        e = Math.min(e * 10 + (b[q++] - 0x30), 1e9);
      }
      exp10 += eneg ? -e : e;
      p = q;
    }
  }
  if (p !== n) return undefined;
  return { neg, digits, exp10 };
}

const decoder = new TextDecoder();

/** Redis's string2d: the double `b` spells, or undefined (not a valid float, or NaN). */
export function parseDouble(b: Uint8Array): number | undefined {
  const s = scanDecimal(b);
  if (s === undefined) return undefined;
  if ("inf" in s) return s.neg ? -Infinity : Infinity;
  const v = Number(decoder.decode(b));
  return Number.isNaN(v) ? undefined : v;
}

// ── x87 long double, exactly ──

/** A long double: (-1)^neg × mant × 2^exp, mant 64 bits (or 0). */
interface LongDouble {
  neg: boolean;
  mant: bigint;
  exp: number;
}

const MANT_BITS = 64;
/** Largest binary exponent of a long double (values ≥ 2^16384 overflow). */
const EXP_LIMIT = 16384;
/** Smallest normal long double is 2^-16382. */
const EXP_MIN = -16382;

function bitLength(v: bigint): number {
  return v === 0n ? 0 : v.toString(2).length;
}

/** Rounds num/den (positive) × 2^exp to a 64-bit mantissa, nearest even. */
function roundRational(neg: boolean, num: bigint, den: bigint, exp: number): LongDouble {
  if (num === 0n) return { neg, mant: 0n, exp: 0 };
  // scale so that num/den is in [2^63, 2^64)
  let shift = MANT_BITS - (bitLength(num) - bitLength(den));
  let n = shift >= 0 ? num << BigInt(shift) : num;
  let d = shift >= 0 ? den : den << BigInt(-shift);
  let q = n / d;
  if (q >= 1n << 64n) {
    shift--;
    d <<= 1n;
  } else if (q < 1n << 63n) {
    shift++;
    n <<= 1n;
  }
  q = n / d;
  const r = n - q * d;
  if (r * 2n > d || (r * 2n === d && (q & 1n) === 1n)) q++;
  if (q === 1n << 64n) {
    q >>= 1n;
    shift--;
  }
  return { neg, mant: q, exp: exp - shift };
}

function fromDecimal(neg: boolean, digits: string, exp10: number): LongDouble {
  const d = BigInt(digits);
  if (d === 0n) return { neg, mant: 0n, exp: 0 };
  if (exp10 >= 0) return roundRational(neg, d * 10n ** BigInt(exp10), 1n, 0);
  return roundRational(neg, d, 10n ** BigInt(-exp10), 0);
}

function isOverflow(v: LongDouble): boolean {
  return v.mant !== 0n && v.exp + MANT_BITS > EXP_LIMIT;
}

function isUnderflow(v: LongDouble): boolean {
  return v.mant !== 0n && v.exp + MANT_BITS - 1 < EXP_MIN - 63;
}

/** Redis's string2ld: a long double, "inf" for ±infinity, or undefined (not a valid float). */
function parseLongDouble(b: Uint8Array): LongDouble | "inf" | undefined {
  if (b.length === 0 || b.length >= 5 * 1024) return undefined;
  const s = scanDecimal(b);
  if (s === undefined) return undefined;
  if ("inf" in s) return "inf";
  if (s.exp10 > 5000) {
    // a huge exponent over digits that are not all zero overflows
    return /[1-9]/.test(s.digits) ? undefined : { neg: s.neg, mant: 0n, exp: 0 };
  }
  if (s.exp10 < -20000) {
    return /[1-9]/.test(s.digits) ? undefined : { neg: s.neg, mant: 0n, exp: 0 };
  }
  const v = fromDecimal(s.neg, s.digits, s.exp10);
  if (isOverflow(v) || isUnderflow(v)) return undefined;
  return v;
}

function signed(v: LongDouble): bigint {
  return v.neg ? -v.mant : v.mant;
}

function add(a: LongDouble, b: LongDouble): LongDouble {
  if (a.mant === 0n) return b.mant === 0n ? { neg: a.neg && b.neg, mant: 0n, exp: 0 } : b;
  if (b.mant === 0n) return a;
  const e = Math.min(a.exp, b.exp);
  const sum = (signed(a) << BigInt(a.exp - e)) + (signed(b) << BigInt(b.exp - e));
  if (sum === 0n) return { neg: false, mant: 0n, exp: 0 };
  return roundRational(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

/** "%.17Lf" of `v`, then trailing zeros and a trailing point dropped, "-0" as "0" (ld2string, human mode). */
function formatHuman(v: LongDouble): string {
  // v × 10^17, rounded to nearest even
  let num = v.mant * 10n ** 17n;
  let den = 1n;
  if (v.exp >= 0) num <<= BigInt(v.exp);
  else den <<= BigInt(-v.exp);
  let q = num / den;
  const r = num - q * den;
  if (r * 2n > den || (r * 2n === den && (q & 1n) === 1n)) q++;
  let s = q.toString().padStart(18, "0");
  s = s.slice(0, s.length - 17) + "." + s.slice(s.length - 17);
  let end = s.length;
  while (s.charCodeAt(end - 1) === 0x30) end--;
  if (s.charCodeAt(end - 1) === 0x2e) end--;
  s = s.slice(0, end);
  if (v.neg && s !== "0") s = "-" + s;
  return s;
}

/** What {@link incrByFloat} gives: the new value's text, or which error Redis answers. */
export type IncrByFloatResult = { value: string } | { error: "not-float" | "nan-or-inf" };

/**
 * INCRBYFLOAT's arithmetic: `current` (the key's bytes, undefined for
 * none: 0) plus `increment`, as Redis computes and prints it.
 */
export function incrByFloat(
  current: Uint8Array | undefined,
  increment: Uint8Array,
): IncrByFloatResult {
  const a = current === undefined ? { neg: false, mant: 0n, exp: 0 } : parseLongDouble(current);
  if (a === undefined) return { error: "not-float" };
  const b = parseLongDouble(increment);
  if (b === undefined) return { error: "not-float" };
  if (a === "inf" || b === "inf") return { error: "nan-or-inf" };
  const sum = add(a, b);
  if (isOverflow(sum)) return { error: "nan-or-inf" };
  return { value: formatHuman(sum) };
}
