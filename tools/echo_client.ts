/**
 * A TCP client of the echo app (servers/apps/echo.ts) that checks what it
 * gets from the outside: the app answers each line with `<n> <line>`, n
 * counting 1, 2, 3… per connection from the app's persistent state. So the
 * k-th reply must be exactly `k` and the k-th line sent; a repeat, a gap, a
 * reordering or a reply from state a crash rolled back breaks that, and is
 * recorded as a violation. A connection that ends before the client ends
 * it is recorded as broken.
 *
 * The net scenario (tools/net_scenario.ts), its test and the network bench
 * use it.
 *
 * @module
 */

import { writeAll } from "../kernel/abi/net_link.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One echo connection and what it saw. */
export class EchoClient {
  /** Lines sent, in order (without the newline). */
  private readonly sent: string[] = [];
  /** When each line was sent (performance.now()), for round trips. */
  private readonly sentAt: number[] = [];
  /** Replies checked so far. */
  replies = 0;
  /** Bytes written to the app and read from it. */
  bytesSent = 0;
  bytesReceived = 0;
  /** Round trip of each reply, in milliseconds. */
  readonly rttMs: number[] = [];
  /** What this connection saw that must never happen. */
  readonly violations: string[] = [];
  /** The connection ended (EOF or an error) before the client closed it. */
  broken: string | undefined;
  /** The server closed the connection after the client's half-close. */
  sawEof = false;
  private halfClosed = false;
  private readonly waiters: Array<() => void> = [];
  private readonly done: Promise<void>;

  private constructor(readonly name: string, private readonly conn: Deno.TcpConn) {
    this.done = this.readReplies();
  }

  /** Connects to the echo app on 127.0.0.1:`port`. */
  static async connect(name: string, port: number): Promise<EchoClient> {
    return new EchoClient(name, await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Lines sent and not yet answered. */
  get outstanding(): number {
    return this.sent.length - this.replies;
  }

  /** Sends one line (no newline in `text`). */
  async send(text: string): Promise<void> {
    this.sent.push(text);
    this.sentAt.push(performance.now());
    const bytes = encoder.encode(text + "\n");
    this.bytesSent += bytes.length;
    try {
      await writeAll(this.conn, bytes);
    } catch (e) {
      this.broken ??= `write failed: ${(e as Error).message}`;
    }
  }

  /** Resolves once `n` replies have arrived in all, or the connection ended. */
  async replied(n: number): Promise<void> {
    while (this.replies < n && this.broken === undefined && !this.sawEof) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Half-closes (no more lines); resolves when the app closed its side after its replies. */
  async finish(): Promise<void> {
    this.halfClosed = true;
    try {
      await this.conn.closeWrite();
    } catch (e) {
      this.broken ??= `half-close failed: ${(e as Error).message}`;
    }
    await this.done;
    if (this.replies !== this.sent.length) {
      this.violations.push(
        `${this.name}: ${this.sent.length} lines sent, ${this.replies} replies before the app closed`,
      );
    }
  }

  /** Closes at once (a client that goes away). */
  abort(): void {
    this.halfClosed = true;
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  private async readReplies(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending = "";
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.bytesReceived += n;
        pending += decoder.decode(buf.subarray(0, n), { stream: true });
        let nl;
        while ((nl = pending.indexOf("\n")) >= 0) {
          this.check(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
        this.wake();
      }
      if (pending.length > 0) this.violations.push(`${this.name}: a reply cut short: ${pending}`);
      if (this.halfClosed) this.sawEof = true;
      else this.broken ??= "the connection ended (EOF) before the client closed it";
    } catch (e) {
      if (!this.halfClosed) this.broken ??= `read failed: ${(e as Error).message}`;
    }
    this.wake();
  }

  private check(reply: string): void {
    const k = this.replies + 1;
    const expected = `${k} ${this.sent[k - 1]}`;
    if (k > this.sent.length) {
      this.violations.push(`${this.name}: reply ${k} to a line never sent: ${reply.slice(0, 80)}`);
    } else if (reply !== expected) {
      this.violations.push(
        `${this.name}: reply ${k} is "${reply.slice(0, 80)}", expected "${expected.slice(0, 80)}"`,
      );
    } else {
      this.rttMs.push(performance.now() - this.sentAt[k - 1]);
    }
    this.replies = k;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; another process may take it meanwhile). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
