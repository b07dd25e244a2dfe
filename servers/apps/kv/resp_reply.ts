/**
 * The reply side of RESP2, for clients of the kv store: {@link parseReply}
 * reads one reply (with the bytes it came as) from a buffer; the shell's
 * `kv` (servers/apps/shell/kv_commands.ts) shows it, and the tools'
 * RESP client (tools/resp_client.ts) compares it byte for byte.
 *
 * @module
 */

const decoder = new TextDecoder();

/** One RESP2 reply, with the exact bytes it arrived as. */
export type Reply =
  & { raw: Uint8Array }
  & (
    | { t: "+" | "-" | ":"; text: string }
    | { t: "$"; bulk: Uint8Array | null }
    | { t: "*"; items: Reply[] | null }
  );

/** `bytes` shown printable: `\r`, `\n`, quotes and non-ASCII escaped. */
export function showBytes(bytes: Uint8Array, max = 400): string {
  let s = "";
  for (const c of bytes.subarray(0, max)) {
    if (c === 0x0d) s += "\\r";
    else if (c === 0x0a) s += "\\n";
    else if (c === 0x22 || c === 0x5c) s += "\\" + String.fromCharCode(c);
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return bytes.length > max ? `${s}…(${bytes.length} bytes)` : s;
}

/**
 * Parses one reply from `buf` at `at`: the reply and where it ends, or
 * undefined when `buf` does not hold all of it yet. Throws on bytes that
 * are no RESP2 reply.
 */
export function parseReply(buf: Uint8Array, at: number): { reply: Reply; end: number } | undefined {
  const nl = buf.indexOf(0x0a, at);
  if (nl < 0) return undefined;
  if (nl === at || buf[nl - 1] !== 0x0d) {
    throw new Error(`not a RESP reply line at ${at}: "${showBytes(buf.subarray(at, nl + 1))}"`);
  }
  const t = String.fromCharCode(buf[at]);
  const line = decoder.decode(buf.subarray(at + 1, nl - 1));
  const after = nl + 1;
  if (t === "+" || t === "-" || t === ":") {
    return { reply: { t, text: line, raw: buf.slice(at, after) }, end: after };
  }
  const n = Number(line);
  if (!Number.isInteger(n)) throw new Error(`bad length "${line}" in a "${t}" reply`);
  if (t === "$") {
    if (n < 0) return { reply: { t, bulk: null, raw: buf.slice(at, after) }, end: after };
    if (buf.length < after + n + 2) return undefined;
    const end = after + n + 2;
    return { reply: { t, bulk: buf.slice(after, after + n), raw: buf.slice(at, end) }, end };
  }
  if (t === "*") {
    if (n < 0) return { reply: { t, items: null, raw: buf.slice(at, after) }, end: after };
    const items: Reply[] = [];
    let end = after;
    for (let i = 0; i < n; i++) {
      const r = parseReply(buf, end);
      if (r === undefined) return undefined;
      items.push(r.reply);
      end = r.end;
    }
    return { reply: { t, items, raw: buf.slice(at, end) }, end };
  }
  throw new Error(`unknown RESP type byte "${showBytes(buf.subarray(at, at + 1))}"`);
}
