/**
 * The kv store: a Redis-protocol server (RESP2, inline commands,
 * pipelining) on a TCP port. `deno task boot --fresh --apps kv [--kv-port
 * N]`; args `port` (default {@link KV_PORT_DEFAULT}) and `pages` (heap
 * size, default {@link KV_HEAP_PAGES_DEFAULT}).
 *
 * Everything lasting is in ONE lasting PMO, the heap (servers/apps/kv/
 * store/, `openStore`): the keyspace, the connection table (conns.ts: each
 * connection's session fields, its unparsed input and its unsent output)
 * and the store's record (app_record.ts: client ids, start time, CONFIG).
 *
 * One step per event ({@link pump}): send what output is waiting, receive
 * everything the driver has, append it to the connection's input buffer,
 * parse and run every complete command (pipelining) into the output
 * buffer, send what the window takes; the rest goes on WRITABLE. A step
 * is atomic across a crash: checkpoints fall between steps, network input
 * is acknowledged only once a committed checkpoint consumed it and output
 * leaves only after the checkpoint that made it commits, so the world sees
 * all of a step or none of it. No log, no fsync.
 *
 * Clients, as Redis treats them, with the differences said:
 * - a protocol error is answered `-ERR Protocol error: …`, then the
 *   connection is closed; QUIT answers +OK and closes; the client's EOF
 *   closes once the replies are out;
 * - a client that never reads: while more than {@link OUTPUT_STALL_BYTES}
 *   of its replies wait, nothing more is received from it, so it holds
 *   back only itself. Redis instead keeps reading and disconnects it at
 *   `client-output-buffer-limit` (none for normal clients by default);
 *   here its input waits in the switch, under TCP's own flow control;
 * - the heap full while a connection buffer grows (E_NO_MEMORY): that
 *   client is closed, as Redis closes one over its query-buffer limit;
 *   the others go on (a command that runs out of memory answers -OOM);
 * - more clients than the driver's table: the driver refuses them.
 *
 * Active expiry: the timer ("timer", APPS `timerMs`) runs
 * `keyspace.expireSome` for up to {@link EXPIRE_KEYS_PER_TICK} keys per
 * tick, and refreshes the checkpoint figures INFO shows (checkpoint_info).
 *
 * A resumed or restarted store rebuilds only volatile things (the
 * connection index, sessions, the sorted-set indexes inside the store):
 * every connection is found again in the table and pumped, then waiting
 * connections are accepted (as the echo app does).
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import { HandleKind, RECV_BYTES_MAX, SEND_BYTES_MAX, SocketEvent } from "../../net/protocol.ts";
import { KV_HEAP_PAGES_DEFAULT, KV_PORT_DEFAULT } from "../../init/config.ts";
import { CapName } from "../../runtime/names.ts";
import { Sockets } from "../../runtime/net.ts";
import { type Context, runProgram } from "../../runtime/program.ts";
import { lastingPmo } from "../../runtime/service.ts";
import { AppRecord } from "./app_record.ts";
import { Commands } from "./commands/mod.ts";
import { type Conn, ConnTable, FLAG_CLOSING } from "./conns.ts";
import type { Keyspace } from "./keyspace.ts";
import { OutputWriter, parseCommand } from "./resp.ts";
import type { Host, PersistenceFigures, Session } from "./session.ts";
import { openStore } from "./store/mod.ts";

/** Unsent reply bytes past which nothing more is received from a connection. */
export const OUTPUT_STALL_BYTES = 1024 * 1024;
/** Unparsed input a connection may keep (Redis's client-query-buffer-limit); past it, it is closed. */
const INPUT_BYTES_MAX = 1024 * 1024 * 1024;
/** Expired keys deleted per timer tick at most. */
export const EXPIRE_KEYS_PER_TICK = 200;
/** proto-max-bulk-len when CONFIG has none (Redis's default, 512 MB). */
const MAX_BULK_BYTES_DEFAULT = 512 * 1024 * 1024;

/** The store's volatile side: the host commands see, the table, the commands. */
class Store implements Host {
  readonly config: Map<string, string>;
  readonly commands: Commands;
  private readonly out = new OutputWriter(64 * 1024);
  private figures: PersistenceFigures = {
    checkpointPeriodMs: 0,
    checkpointsCommitted: 0,
    lastCommitUnixMs: 0,
    lastPauseUs: 0,
  };
  private maxBulkBytes = MAX_BULK_BYTES_DEFAULT;

  constructor(
    readonly keyspace: Keyspace,
    readonly conns: ConnTable,
    readonly record: AppRecord,
    readonly port: number,
  ) {
    this.config = record.loadConfig();
    this.readLimits();
    this.commands = new Commands(this);
  }

  get startedAt(): number {
    return this.record.startedAt;
  }

  get commandsProcessed(): number {
    return this.record.commands;
  }

  set commandsProcessed(n: number) {
    this.record.commands = n;
  }

  configChanged(): void {
    this.record.saveConfig(this.config);
    this.readLimits();
  }

  sessions(): Session[] {
    return this.conns.all().map((c) => c.session);
  }

  persistence(): PersistenceFigures {
    return this.figures;
  }

  /** Asks the kernel for the checkpoint figures INFO persistence shows. */
  async refreshFigures(ctx: Context): Promise<void> {
    const info = await ctx.sys.checkpointInfo();
    this.figures = {
      checkpointPeriodMs: info.periodMs,
      checkpointsCommitted: info.committed,
      lastCommitUnixMs: info.lastCommitUnixMs,
      lastPauseUs: info.lastPauseUs,
    };
  }

  private readLimits(): void {
    const bulk = Number(this.config.get("proto-max-bulk-len"));
    this.maxBulkBytes = Number.isFinite(bulk) && bulk > 0 ? bulk : MAX_BULK_BYTES_DEFAULT;
  }

  /**
   * Parses and runs every complete command in `conn`'s input, replies into
   * `this.out`; stops at QUIT and at a protocol error (answered, then
   * closing). Returns the replies (a view, valid until the next run).
   */
  run(conn: Conn): Uint8Array {
    const out = this.out, session = conn.session;
    out.reset();
    const buf = this.conns.pending(conn, "in");
    let from = 0;
    while (from < buf.length && !session.closing) {
      const r = parseCommand(buf, from, { maxBulkBytes: this.maxBulkBytes });
      if (r.kind === "incomplete") break;
      if (r.kind === "error") {
        out.error(`ERR ${r.message}`);
        session.closing = true;
        from = buf.length;
        break;
      }
      from = r.end;
      if (r.argv.length > 0) this.commands.execute(session, r.argv, out);
    }
    this.conns.consume(conn, "in", from);
    if (session.closing) this.conns.setFlags(conn, FLAG_CLOSING);
    this.conns.saveSession(conn);
    return out.bytes();
  }
}

/** True for E_NOT_FOUND: the driver has forgotten the connection (closed or gone). */
function gone(e: unknown): boolean {
  return e instanceof TardigradeError && e.code === Err.E_NOT_FOUND;
}

/** Sends `conn`'s waiting output; false while some is left (wait for WRITABLE). */
async function flush(net: Sockets, store: Store, conn: Conn): Promise<boolean> {
  for (;;) {
    const waiting = store.conns.pending(conn, "out");
    if (waiting.length === 0) return true;
    const n = await net.send(conn.handle, waiting.slice(0, SEND_BYTES_MAX));
    if (n === 0) return false;
    store.conns.consume(conn, "out", n);
  }
}

/** Sends `replies` straight from memory while the window takes them; keeps the rest in the output buffer. */
async function sendReplies(
  net: Sockets,
  store: Store,
  conn: Conn,
  replies: Uint8Array,
): Promise<void> {
  let sent = 0;
  // Only when nothing older waits: replies leave in order.
  if (store.conns.pendingBytes(conn, "out") === 0) {
    while (sent < replies.length) {
      const n = await net.send(conn.handle, replies.slice(sent, sent + SEND_BYTES_MAX));
      if (n === 0) break;
      sent += n;
    }
  }
  store.conns.append(conn, "out", replies.subarray(sent));
}

/**
 * Receives everything the driver has for `conn` (until it gives less than
 * asked, or EOF) into its input buffer; false when nothing came.
 */
async function receive(net: Sockets, store: Store, conn: Conn): Promise<boolean> {
  let any = false;
  for (;;) {
    const got = await net.recv(conn.handle, RECV_BYTES_MAX);
    if (!got) return any;
    any = true;
    if (store.conns.pendingBytes(conn, "in") + got.bytes.length > INPUT_BYTES_MAX) {
      throw new TardigradeError(
        Err.E_NO_MEMORY,
        `kv: connection ${conn.handle}: query buffer full`,
      );
    }
    store.conns.append(conn, "in", got.bytes);
    if (got.eof) {
      store.conns.setFlags(conn, FLAG_CLOSING);
      return true;
    }
    // Less than asked: the driver had no more, and every DATA after this raises READABLE again.
    if (got.bytes.length < RECV_BYTES_MAX) return true;
  }
}

/**
 * Moves `conn` on as far as it goes now: waiting output out; unless it
 * closes or too much output waits, everything received, run, and the
 * replies sent or kept; the close once a closing connection's output is out.
 */
async function pump(net: Sockets, store: Store, conn: Conn): Promise<void> {
  try {
    for (;;) {
      const drained = await flush(net, store, conn);
      if (store.conns.flags(conn) & FLAG_CLOSING) {
        if (drained && await net.close(conn.handle)) store.conns.remove(conn);
        return;
      }
      if (store.conns.pendingBytes(conn, "out") > OUTPUT_STALL_BYTES) return;
      if (!(await receive(net, store, conn))) return;
      await sendReplies(net, store, conn, store.run(conn));
      // Received until the driver had nothing: the next bytes come with a new event.
      if (!(store.conns.flags(conn) & FLAG_CLOSING)) return;
    }
  } catch (e) {
    if (gone(e)) return store.conns.remove(conn);
    if (!(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY)) throw e;
    // No room for its buffers: this client is closed (its buffers given back first); others go on.
    store.conns.dropBuffers(conn);
    store.conns.setFlags(conn, FLAG_CLOSING);
    try {
      if (await net.close(conn.handle)) store.conns.remove(conn);
    } catch (e2) {
      if (!gone(e2)) throw e2;
      store.conns.remove(conn);
    }
  }
}

/** Accepts every connection waiting on the store's port and serves what each has already. */
async function acceptAll(net: Sockets, store: Store): Promise<void> {
  for (;;) {
    const handle = await net.accept(store.port);
    if (handle === undefined) return;
    const conn = store.conns.get(handle) ??
      store.conns.add(handle, store.record.takeClientId(), Date.now());
    if (conn === undefined) await net.close(handle);
    else await pump(net, store, conn);
  }
}

runProgram(async (ctx) => {
  const port = typeof ctx.args.port === "number" ? ctx.args.port : KV_PORT_DEFAULT;
  const pages = typeof ctx.args.pages === "number" ? ctx.args.pages : KV_HEAP_PAGES_DEFAULT;
  const { heap, keyspace, fresh } = openStore(await lastingPmo(ctx, "heap", pages));
  const store = new Store(keyspace, new ConnTable(heap), new AppRecord(heap, Date.now()), port);
  await store.refreshFigures(ctx);
  const net = await Sockets.open(ctx, async (handle, kind, events, net) => {
    if (kind === HandleKind.LISTENER) return acceptAll(net, store);
    const conn = store.conns.get(handle);
    if (conn === undefined) return;
    if (events & SocketEvent.HUP) return store.conns.remove(conn);
    await pump(net, store, conn);
  });
  await ctx.onNotification(ctx.cap(CapName.TIMER), async () => {
    keyspace.now = Date.now();
    keyspace.expireSome(EXPIRE_KEYS_PER_TICK);
    await store.refreshFigures(ctx);
  });
  await net.listen(port);
  // After a resume: connections waiting for a close or for ring room get no new event.
  await net.exclusive(async () => {
    for (const conn of store.conns.all()) await pump(net, store, conn);
    await acceptAll(net, store);
  });
  const heapMb = (pages * PAGE_BYTES / 1024 / 1024).toFixed(0);
  ctx.log(
    `kv: listening on port ${port} (${fresh ? "new" : "kept"} store, ${heapMb} MiB heap, ` +
      `${store.conns.all().length} connections kept)`,
  );
});
