/**
 * RESP2 in and out, as Redis 7.0 speaks it.
 *
 * In: {@link parseCommand} reads one command (multibulk `*N\r\n$L\r\n…`
 * or an inline line split like Redis's sdssplitargs) from a byte buffer
 * at an offset. It keeps no state between calls, so the app can keep
 * unparsed input anywhere (in NVM) and call again when more arrives;
 * `needBytes` says how much to wait for. Protocol errors carry Redis's
 * texts; the app replies `-ERR <message>` and closes, as Redis does.
 *
 * Out: {@link OutputWriter} appends replies into one growable buffer
 * (simple strings, errors, integers, bulks, nulls, arrays, doubles as
 * Redis 7.0 formats them with "%.17g"). Integers are written digit by
 * digit; bytes are copied once.
 *
 * Also here, shared by the commands: {@link parseInt64} (Redis's
 * string2ll) and {@link formatDouble}.
 *
 * @module
 */

/** Longest inline line (and multibulk/bulk count line) Redis accepts without a newline. */
export const INLINE_MAX_BYTES = 64 * 1024;

/** Limits the parser applies. */
export interface ParseLimits {
  /** Largest bulk argument (CONFIG proto-max-bulk-len). */
  maxBulkBytes: number;
}

/** What {@link parseCommand} found at `from`. */
export type ParseResult =
  | { kind: "command"; argv: Uint8Array[]; end: number }
  | { kind: "incomplete"; needBytes: number }
  | { kind: "error"; message: string };

const CR = 13;
const LF = 10;
const INT_MAX = 2147483647;

/**
 * Parses one command from `buf` at `from`. "command": its arguments and
 * the offset after it (an empty inline line or `*0`/`*-1` gives argv
 * []: skip it). "incomplete": at least `needBytes` bytes from `from` are
 * needed before trying again. "error": Redis's protocol error text
 * (without "ERR "); the connection should be answered and closed.
 */
export function parseCommand(buf: Uint8Array, from: number, limits: ParseLimits): ParseResult {
  if (from >= buf.length) return { kind: "incomplete", needBytes: 1 };
  if (buf[from] === 0x2a /* * */) return parseMultibulk(buf, from, limits);
  return parseInline(buf, from);
}

function incompleteAfter(buf: Uint8Array, from: number): ParseResult {
  return { kind: "incomplete", needBytes: buf.length - from + 1 };
}

function parseMultibulk(buf: Uint8Array, from: number, limits: ParseLimits): ParseResult {
  const nl = buf.indexOf(CR, from);
  if (nl < 0) {
    if (buf.length - from > INLINE_MAX_BYTES) {
      return { kind: "error", message: "Protocol error: too big mbulk count string" };
    }
    return incompleteAfter(buf, from);
  }
  if (nl + 2 > buf.length) return incompleteAfter(buf, from);
  const count = parseInt64(buf, from + 1, nl);
  if (count === undefined || count > INT_MAX) {
    return { kind: "error", message: "Protocol error: invalid multibulk length" };
  }
  let pos = nl + 2;
  if (count <= 0) return { kind: "command", argv: [], end: pos };
  const argv: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const hl = buf.indexOf(CR, pos);
    if (hl < 0) {
      if (buf.length - pos > INLINE_MAX_BYTES) {
        return { kind: "error", message: "Protocol error: too big bulk count string" };
      }
      return incompleteAfter(buf, from);
    }
    if (hl + 2 > buf.length) return incompleteAfter(buf, from);
    if (buf[pos] !== 0x24 /* $ */) {
      return {
        kind: "error",
        message: `Protocol error: expected '$', got '${String.fromCharCode(buf[pos])}'`,
      };
    }
    const len = parseInt64(buf, pos + 1, hl);
    if (len === undefined || len < 0 || len > limits.maxBulkBytes) {
      return { kind: "error", message: "Protocol error: invalid bulk length" };
    }
    const data = hl + 2;
    if (buf.length - data < len + 2) {
      return { kind: "incomplete", needBytes: data + len + 2 - from };
    }
    argv.push(buf.slice(data, data + len));
    pos = data + len + 2; // Redis does not look at the two bytes after a bulk
  }
  return { kind: "command", argv, end: pos };
}

function parseInline(buf: Uint8Array, from: number): ParseResult {
  const nl = buf.indexOf(LF, from);
  if (nl < 0) {
    if (buf.length - from > INLINE_MAX_BYTES) {
      return { kind: "error", message: "Protocol error: too big inline request" };
    }
    return incompleteAfter(buf, from);
  }
  let lineEnd = nl;
  if (lineEnd > from && buf[lineEnd - 1] === CR) lineEnd--;
  const argv = splitArgs(buf, from, lineEnd);
  if (argv === undefined) {
    return { kind: "error", message: "Protocol error: unbalanced quotes in request" };
  }
  return { kind: "command", argv, end: nl + 1 };
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Splits bytes start…end into arguments as Redis's sdssplitargs does
 * (blanks separate; "double quotes" with \n \r \t \b \a \xHH and \\
 * escapes; 'single quotes' with \'; a closing quote must be followed by
 * a blank). A NUL byte ends the line, as in C. Undefined on unbalanced
 * quotes.
 */
export function splitArgs(buf: Uint8Array, start: number, end: number): Uint8Array[] | undefined {
  const z = buf.indexOf(0, start);
  if (z >= 0 && z < end) end = z;
  const at = (i: number) => (i < end ? buf[i] : 0);
  const argv: Uint8Array[] = [];
  let p = start;
  for (;;) {
    while (p < end && isSpace(buf[p])) p++;
    if (p >= end) return argv;
    const cur: number[] = [];
    let inq = false;
    let insq = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inq) {
        if (
          c === 0x5c && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0
        ) {
          cur.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 0x5c && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          cur.push(
            e === 0x6e
              ? 10
              : e === 0x72
              ? 13
              : e === 0x74
              ? 9
              : e === 0x62
              ? 8
              : e === 0x61
              ? 7
              : e,
          );
        } else if (c === 0x22) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined;
          done = true;
        } else if (c === 0) {
          return undefined;
        } else {
          cur.push(c);
        }
      } else if (insq) {
        if (c === 0x5c && at(p + 1) === 0x27) {
          p++;
          cur.push(0x27);
        } else if (c === 0x27) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined;
          done = true;
        } else if (c === 0) {
          return undefined;
        } else {
          cur.push(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        done = true;
      } else if (c === 0x22) {
        inq = true;
      } else if (c === 0x27) {
        insq = true;
      } else {
        cur.push(c);
      }
      if (p < end) p++;
    }
    argv.push(Uint8Array.from(cur));
  }
}

/**
 * Redis's string2ll over bytes start…end: an optional '-', no '+', no
 * leading zeros, no blanks, within 64-bit range. Returns a number (exact
 * up to 2^53; beyond, the nearest double, enough for range checks) or
 * undefined when the bytes are not such an integer. Use
 * {@link parseInt64Exact} where every digit counts.
 */
export function parseInt64(buf: Uint8Array, start = 0, end = buf.length): number | undefined {
  const len = end - start;
  if (len <= 0 || len >= 21) return undefined;
  if (len === 1 && buf[start] === 0x30) return 0;
  let p = start;
  let negative = false;
  if (buf[p] === 0x2d) {
    negative = true;
    p++;
    if (p === end) return undefined;
  }
  if (buf[p] < 0x31 || buf[p] > 0x39) return undefined;
  let v = 0;
  const digitsStart = p;
  for (; p < end; p++) {
    const c = buf[p];
    if (c < 0x30 || c > 0x39) return undefined;
    v = v * 10 + (c - 0x30);
  }
  if (end - digitsStart >= 16) {
    const exact = parseInt64Exact(buf, start, end);
    return exact === undefined ? undefined : Number(exact);
  }
  return negative ? -v : v;
}

/** Smallest and largest 64-bit signed integers. */
export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;

/** {@link parseInt64} with every digit kept: a bigint, or undefined. */
export function parseInt64Exact(buf: Uint8Array, start = 0, end = buf.length): bigint | undefined {
  const len = end - start;
  if (len <= 0 || len >= 21) return undefined;
  if (len === 1 && buf[start] === 0x30) return 0n;
  let p = start;
  if (buf[p] === 0x2d) {
    p++;
    if (p === end) return undefined;
  }
  if (buf[p] < 0x31 || buf[p] > 0x39) return undefined;
  for (let i = p; i < end; i++) if (buf[i] < 0x30 || buf[i] > 0x39) return undefined;
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/**
 * A double as Redis 7.0 writes it in RESP2 (ZSCORE, ZRANGE WITHSCORES):
 * "inf", "-inf", or C's "%.17g".
 */
export function formatDouble(d: number): string {
  if (d === Infinity) return "inf";
  if (d === -Infinity) return "-inf";
  if (Number.isNaN(d)) return "nan";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  if (Number.isInteger(d) && Math.abs(d) < 1e17) return d.toString();
  const e = d.toExponential(16); // d.dddddddddddddddde±x: 17 significant digits
  const ePos = e.indexOf("e");
  const exp = Number(e.slice(ePos + 1));
  const neg = e[0] === "-";
  const digits = e.slice(neg ? 1 : 0, ePos).replace(".", "");
  let out: string;
  if (exp < -4 || exp >= 17) {
    let mant = digits[0] + "." + digits.slice(1);
    mant = stripZeros(mant);
    const ax = Math.abs(exp);
    out = mant + (exp < 0 ? "e-" : "e+") + (ax < 10 ? "0" + ax : String(ax));
  } else if (exp >= 0) {
    out = stripZeros(digits.slice(0, exp + 1) + "." + digits.slice(exp + 1));
  } else {
    out = stripZeros("0." + "0".repeat(-exp - 1) + digits);
  }
  return neg ? "-" + out : out;
}

function stripZeros(s: string): string {
  if (s.indexOf(".") < 0) return s;
  let i = s.length;
  while (s.charCodeAt(i - 1) === 0x30) i--;
  if (s.charCodeAt(i - 1) === 0x2e) i--;
  return s.slice(0, i);
}

const encoder = new TextEncoder();

/**
 * Appends RESP2 replies to one growable buffer. Read what was written
 * with {@link OutputWriter.bytes}; {@link OutputWriter.reset} starts over
 * keeping the memory.
 */
export class OutputWriter {
  private buf: Uint8Array;
  /** Bytes written so far. */
  length = 0;

  constructor(initialBytes = 4096) {
    this.buf = new Uint8Array(initialBytes);
  }

  /** The replies written since the last reset (a view, valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** Forgets what was written. */
  reset(): void {
    this.length = 0;
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** Appends bytes as they are (a pre-encoded reply). */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  private ascii(s: string): void {
    this.reserve(s.length);
    const b = this.buf;
    let n = this.length;
    for (let i = 0; i < s.length; i++) b[n++] = s.charCodeAt(i);
    this.length = n;
  }

  private text(s: string): void {
    // ASCII fast path; anything else through the encoder
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 0x7f) return this.raw(encoder.encode(s));
    }
    this.ascii(s);
  }

  private latin1(s: string): void {
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 0xff) return this.raw(encoder.encode(s));
    }
    this.ascii(s);
  }

  private crlf(): void {
    this.reserve(2);
    this.buf[this.length++] = CR;
    this.buf[this.length++] = LF;
  }

  private prefixed(type: number, n: number): void {
    this.reserve(24);
    this.buf[this.length++] = type;
    this.digits(n);
    this.crlf();
  }

  private digits(n: number): void {
    if (!Number.isSafeInteger(n)) return this.ascii(BigInt(n).toString());
    const b = this.buf;
    if (n < 0) {
      b[this.length++] = 0x2d;
      n = -n;
    }
    if (n < 10) {
      b[this.length++] = 0x30 + n;
      return;
    }
    let digits = 0;
    for (let m = n; m > 0; m = Math.floor(m / 10)) digits++;
    let at = this.length + digits;
    this.length = at;
    while (n > 0) {
      b[--at] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
  }

  /** `+text\r\n` (text has no CR or LF). */
  simple(text: string): void {
    this.reserve(1);
    this.buf[this.length++] = 0x2b;
    this.text(text);
    this.crlf();
  }

  /**
   * `-text\r\n`: text starts with the code ("ERR …", "WRONGTYPE …"); CR
   * and LF become blanks, as Redis does. Characters up to U+00FF are
   * written as one byte each, so an argument echoed as Redis does
   * (commands/context.ts `errorArg`, one character per byte) comes back
   * as the bytes the client sent.
   */
  error(text: string): void {
    this.reserve(1);
    this.buf[this.length++] = 0x2d;
    const start = this.length;
    this.latin1(text);
    for (let i = start; i < this.length; i++) {
      if (this.buf[i] === CR || this.buf[i] === LF) this.buf[i] = 0x20;
    }
    this.crlf();
  }

  /** `:n\r\n`. */
  integer(n: number | bigint): void {
    if (typeof n === "bigint") {
      this.ascii(":" + n.toString());
      return this.crlf();
    }
    this.prefixed(0x3a, n);
  }

  /** `$len\r\nbytes\r\n`. */
  bulk(bytes: Uint8Array): void {
    this.prefixed(0x24, bytes.length);
    this.raw(bytes);
    this.crlf();
  }

  /** `$length\r\n` bytes[from, from+length) `\r\n`: a bulk copied from a larger buffer. */
  bulkFrom(bytes: Uint8Array, from: number, length: number): void {
    this.reserve(length + 26);
    const b = this.buf;
    b[this.length++] = 0x24;
    this.digits(length);
    b[this.length++] = CR;
    b[this.length++] = LF;
    let n = this.length;
    if (length <= 32) { for (let i = 0; i < length; i++) b[n++] = bytes[from + i]; }
    else {
      b.set(bytes.subarray(from, from + length), n);
      n += length;
    }
    b[n++] = CR;
    b[n++] = LF;
    this.length = n;
  }

  /** A bulk of a string's UTF-8 bytes. */
  bulkString(s: string): void {
    this.bulk(encoder.encode(s));
  }

  /** `$-1\r\n`. */
  nullBulk(): void {
    this.ascii("$-1\r\n");
  }

  /** `*n\r\n`: n elements follow. */
  arrayHeader(n: number): void {
    this.prefixed(0x2a, n);
  }

  /** `*-1\r\n`. */
  nullArray(): void {
    this.ascii("*-1\r\n");
  }

  /** A double as a bulk string, formatted as Redis 7.0 does ({@link formatDouble}). */
  double(d: number): void {
    this.bulkString(formatDouble(d));
  }

  /** An array of bulks. */
  bulkArray(items: Uint8Array[]): void {
    this.arrayHeader(items.length);
    for (const item of items) this.bulk(item);
  }
}

/** Pre-encodes a reply so hot paths append it with {@link OutputWriter.raw}. */
export function encodeReply(text: string): Uint8Array {
  return encoder.encode(text);
}
