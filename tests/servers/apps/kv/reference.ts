/**
 * What the store's command and protocol tests compare against: a real
 * redis-server started on a free TCP port (Debian's, installed on demand
 * by requireCommand), a raw-socket client that sends argv lists and reads
 * whole RESP replies as bytes, and the store's side — {@link Commands}
 * over a real NvmKeyspace on a fresh memory object, with a host and a
 * session as the app gives them.
 *
 * @module
 */

import { allocatePmoBuffers, PersistentMemory } from "../../../../kernel/abi/pmem.ts";
import { Commands } from "../../../../servers/apps/kv/commands/mod.ts";
import { OutputWriter } from "../../../../servers/apps/kv/resp.ts";
import type { Host, Session } from "../../../../servers/apps/kv/session.ts";
import { openStore } from "../../../../servers/apps/kv/store/mod.ts";
import { requireCommand } from "../../../helpers.ts";

const encoder = new TextEncoder();

/** `args` as RESP multibulk bytes. */
export function encodeCommand(args: Array<string | Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? encoder.encode(a) : a;
    parts.push(encoder.encode(`$${b.length}\r\n`), b, encoder.encode("\r\n"));
  }
  return concat(parts);
}

/** The bytes of `parts` one after another. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The offset after the RESP2 reply at `from`, or -1 when `buf` does not hold all of it yet. */
export function replyEnd(buf: Uint8Array, from: number): number {
  const nl = buf.indexOf(10, from);
  if (nl < 0) return -1;
  const type = buf[from];
  const n = Number(new TextDecoder().decode(buf.subarray(from + 1, nl - 1)));
  if (type === 0x24 /* $ */) {
    if (n < 0) return nl + 1;
    return buf.length >= nl + 1 + n + 2 ? nl + 1 + n + 2 : -1;
  }
  if (type === 0x2a /* * */) {
    let at = nl + 1;
    for (let i = 0; i < n; i++) {
      at = replyEnd(buf, at);
      if (at < 0) return -1;
    }
    return at;
  }
  return nl + 1;
}

/** A raw TCP connection to redis-server that sends commands and reads reply bytes. */
export class RawClient {
  private pending: Uint8Array = new Uint8Array(0);

  private constructor(readonly conn: Deno.TcpConn) {}

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends bytes as they are. */
  async send(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  private async more(): Promise<boolean> {
    const buf = new Uint8Array(65536);
    const n = await this.conn.read(buf);
    if (n === null) return false;
    this.pending = concat([this.pending, buf.subarray(0, n)]);
    return true;
  }

  /** The next `count` whole replies, each as its bytes. */
  async replies(count: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    while (out.length < count) {
      const end = this.pending.length === 0 ? -1 : replyEnd(this.pending, 0);
      if (end < 0) {
        if (!(await this.more())) {
          throw new Error(`redis-server closed after ${out.length} replies`);
        }
        continue;
      }
      out.push(this.pending.slice(0, end));
      this.pending = this.pending.slice(end);
    }
    return out;
  }

  /** Sends one command and returns its reply's bytes. */
  async call(args: Array<string | Uint8Array>): Promise<Uint8Array> {
    await this.send(encodeCommand(args));
    return (await this.replies(1))[0];
  }

  /** Everything until the server closes the connection. */
  async readToClose(): Promise<Uint8Array> {
    while (await this.more()) { /* keep reading */ }
    const all = this.pending;
    this.pending = new Uint8Array(0);
    return all;
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }
}

/** A redis-server of its own, on a free port, in a temporary directory (SAVE writes there), saving nothing by itself. */
export class RedisServer {
  private constructor(
    readonly process: Deno.ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** Starts redis-server (installing it when missing) and waits until it answers. */
  static async start(): Promise<RedisServer> {
    await requireCommand("redis-server", "redis-server");
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const dir = await Deno.makeTempDir({ prefix: "kv-redis-" });
    const process = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server = new RedisServer(process, port, dir);
    // it is ready when its log says so
    const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let log = "";
    while (!log.includes("Ready to accept connections")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`redis-server exited before it was ready: ${log.slice(-400)}`);
      log += value;
    }
    reader.releaseLock();
    process.stdout.cancel().catch(() => {});
    // the port must be this process's, not another server's that took it meanwhile
    const probeClient = await RawClient.connect(port);
    const info = new TextDecoder().decode(await probeClient.call(["info", "server"]));
    probeClient.close();
    if (!info.includes(`process_id:${process.pid}\r\n`)) {
      await server.stop();
      throw new Error(`port ${port} answered for another redis-server; run the test again`);
    }
    return server;
  }

  /** Stops the server and waits for it. */
  async stop(): Promise<void> {
    this.process.kill("SIGKILL");
    await this.process.status;
    await this.process.stderr.cancel().catch(() => {});
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** A session as the app keeps one. */
export function newSession(id: number): Session {
  return {
    id,
    db: 0,
    name: "",
    libName: "",
    libVersion: "",
    createdAt: Date.now(),
    closing: false,
    addr: "127.0.0.1:1",
    lastCommand: "",
  };
}

/** The store's side of a comparison: Commands over an NvmKeyspace on a fresh memory object. */
export class Store {
  readonly host: Host;
  readonly commands: Commands;
  readonly session: Session = newSession(1);
  private readonly out = new OutputWriter();

  constructor(pages = 1024) {
    const { keyspace } = openStore(new PersistentMemory(allocatePmoBuffers(1, pages)));
    const sessions = [this.session];
    this.host = {
      keyspace,
      config: new Map(),
      configChanged() {},
      sessions: () => sessions,
      startedAt: Date.now(),
      port: 6379,
      persistence: () => ({
        checkpointPeriodMs: 5,
        checkpointsCommitted: 0,
        lastCommitUnixMs: 0,
        lastPauseUs: 0,
      }),
      commandsProcessed: 0,
    };
    this.commands = new Commands(this.host);
  }

  /** Runs one command and returns its reply's bytes. */
  call(args: Array<string | Uint8Array>): Uint8Array {
    this.out.reset();
    this.commands.execute(
      this.session,
      args.map((a) => (typeof a === "string" ? encoder.encode(a) : a)),
      this.out,
    );
    return this.out.bytes().slice();
  }
}
