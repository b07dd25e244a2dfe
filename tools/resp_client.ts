/**
 * A raw RESP2 client for tests and tools that talk to the store and to a
 * real redis-server from the outside: {@link encodeCommand} turns argv into
 * a multibulk request, {@link RespConn} writes raw bytes (in as many writes
 * as the caller splits them into) and reads replies with a RESP reader
 * that keeps each reply's exact bytes, so two servers' replies can be
 * compared byte for byte ({@link Reply.raw}) or by structure.
 *
 * Used by the differential run (tools/kv_diff.ts) and the bad-input tests
 * (tests/net/kv_bad_input_test.ts).
 *
 * @module
 */

import { concatBytes, writeAll } from "../kernel/abi/net_link.ts";
import { parseReply, type Reply, showBytes } from "../servers/apps/kv/resp_reply.ts";

export { parseReply, type Reply, showBytes };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A command argument: text (UTF-8) or bytes. */
export type Arg = string | Uint8Array;

/** The bytes of an argument. */
export function argBytes(a: Arg): Uint8Array {
  return typeof a === "string" ? encoder.encode(a) : a;
}

/** `argv` as a RESP multibulk request (`*N\r\n$L\r\n…\r\n`). */
export function encodeCommand(argv: readonly Arg[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${argv.length}\r\n`)];
  for (const a of argv) {
    const b = argBytes(a);
    parts.push(encoder.encode(`$${b.length}\r\n`), b, encoder.encode("\r\n"));
  }
  return concatBytes(parts);
}

/** An argv shown as a command line, each argument quoted. */
export function showArgv(argv: readonly Arg[]): string {
  return argv.map((a) => `"${showBytes(argBytes(a), 80)}"`).join(" ");
}

/** A bulk reply's bytes as text (null for the null bulk); undefined for a reply of another type or none. */
export function bulkText(r: Reply | undefined): string | null | undefined {
  if (r?.t !== "$") return undefined;
  return r.bulk === null ? null : decoder.decode(r.bulk);
}

/** A reply's text, for messages. */
export function showReply(r: Reply | undefined): string {
  return r === undefined ? "(no reply: the connection closed)" : showBytes(r.raw);
}

/** How long a read waits for a reply before it fails (the run stays bounded). */
export const REPLY_TIMEOUT_MS = 20_000;

/** One TCP connection speaking RESP: raw writes, replies read in order. */
export class RespConn {
  private buf = new Uint8Array(0);
  private at = 0;
  /** The peer closed its side (EOF) or the read failed. */
  closed = false;
  private readonly chunk = new Uint8Array(64 * 1024);
  private inflight: Promise<number | null> | undefined;

  private constructor(readonly conn: Deno.TcpConn, readonly port: number) {}

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RespConn> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RespConn(conn, port);
  }

  /** Writes `bytes` (all of them, as one write). */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Sends one command and reads its reply. */
  async call(...argv: Arg[]): Promise<Reply> {
    await this.write(encodeCommand(argv));
    const r = await this.read();
    if (r === undefined) throw new Error(`${showArgv(argv)}: the connection closed`);
    return r;
  }

  /**
   * The next reply, or undefined when the connection closes first. Throws
   * when none comes within `timeoutMs`.
   */
  async read(timeoutMs = REPLY_TIMEOUT_MS): Promise<Reply | undefined> {
    for (;;) {
      const r = parseReply(this.buf, this.at);
      if (r !== undefined) {
        this.at = r.end;
        return r.reply;
      }
      if (this.closed) return undefined;
      await this.fill(timeoutMs);
    }
  }

  /** Resolves true when the peer closes the connection within `timeoutMs` with nothing more sent. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    while (!this.closed) {
      if (this.at < this.buf.length) return false;
      try {
        await this.fill(timeoutMs);
      } catch {
        return false;
      }
    }
    return this.at >= this.buf.length;
  }

  /** Bytes read and not yet parsed as replies. */
  pending(): Uint8Array {
    return this.buf.subarray(this.at);
  }

  /** Closes the connection (once). */
  close(): void {
    try {
      this.conn.close();
    } catch { /* closed already */ }
    this.closed = true;
  }

  private async fill(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    // A read outlives a timeout: the next fill waits for the same one, so no bytes are lost.
    this.inflight ??= this.conn.read(this.chunk).catch(() => null);
    const n = await Promise.race([this.inflight, timeout]);
    clearTimeout(timer);
    if (n === "timeout") {
      throw new Error(
        `no reply from port ${this.port} within ${timeoutMs} ms (unparsed: "${
          showBytes(this.pending(), 200)
        }")`,
      );
    }
    this.inflight = undefined;
    if (n === null) {
      this.closed = true;
      return;
    }
    const rest = this.buf.subarray(this.at);
    const next = new Uint8Array(rest.length + n);
    next.set(rest);
    next.set(this.chunk.subarray(0, n), rest.length);
    this.buf = next;
    this.at = 0;
  }
}
