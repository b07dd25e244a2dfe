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
 * One step per POLL ({@link drain}, {@link serve}): every connection the
 * POLL names is served at once with the batched socket calls: one
 * RECV_MANY pass receives what each has (each reply fills the payload),
 * every complete command of each runs (pipelining), one SEND_MANY pass
 * sends each connection's replies and waiting output, at most
 * {@link SEND_SHARE_BYTES} each, smallest first; the rest goes on WRITABLE,
 * or in a drain of its own (`again`) when the window still had room. A
 * step is atomic across a crash: checkpoints fall between steps, network
 * input is acknowledged only once a committed checkpoint consumed it and
 * output leaves only after the checkpoint that made it commits, so the
 * world sees all of a step or none of it. No log, no fsync.
 *
 * Programs in the machine run the same commands over IPC (protocol.ts:
 * one command a request, in database 0; the shell's `kv`).
 *
 * Clients, as Redis treats them, with the differences said:
 * - a protocol error is answered `-ERR Protocol error: …`, then the
 *   connection is closed; QUIT answers +OK and closes; the client's EOF
 *   closes once the replies are out;
 * - a client that never reads: while more than {@link OUTPUT_STALL_BYTES}
 *   of its replies wait, no more of its commands run and nothing more is
 *   received from it, and its backlog takes only its share of the shared
 *   transmit ring per drain, so it holds back only itself. Redis instead keeps reading and disconnects it at
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
 * every connection is found again in the table and served, then waiting
 * connections are accepted (as the echo app does).
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX, PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import type { NetEvent } from "../../net/protocol.ts";
import { KV_HEAP_PAGES_DEFAULT, KV_PORT_DEFAULT } from "../../init/config.ts";
import { CapName } from "../../runtime/names.ts";
import { type Gathered, Sockets } from "../../runtime/net.ts";
import { type Context, runProgram } from "../../runtime/program.ts";
import { lastingPmo, serveService } from "../../runtime/service.ts";
import { type ConnApp, connsToServe, serveAtStart } from "./accept.ts";
import { AppRecord } from "./app_record.ts";
import { Commands } from "./commands/mod.ts";
import { type Conn, ConnTable, FLAG_CLOSING } from "./conns.ts";
import type { Keyspace } from "./keyspace.ts";
import { OutputWriter, parseCommand } from "./resp.ts";
import { type Host, newSession, type PersistenceFigures, type Session } from "./session.ts";
import { openStore } from "./store/mod.ts";
import { decodeCommand, KvLabel } from "./protocol.ts";

/** Unsent reply bytes past which nothing more is received from a connection. */
export const OUTPUT_STALL_BYTES = 1024 * 1024;
/**
 * Output bytes one connection offers per drain at most: the transmit ring
 * (64 KiB, shared, freed only at a commit) keeps room for the others.
 */
export const SEND_SHARE_BYTES = 16 * 1024;
/** Unparsed input a connection may keep (Redis's client-query-buffer-limit); past it, it is closed. */
const INPUT_BYTES_MAX = 1024 * 1024 * 1024;
/** Expired keys deleted per timer tick at most. */
export const EXPIRE_KEYS_PER_TICK = 200;
/** proto-max-bulk-len when CONFIG has none (Redis's default, 512 MB). */
const MAX_BULK_BYTES_DEFAULT = 512 * 1024 * 1024;

/** The store's volatile side: the host commands see, the table, the commands. */
class Store implements Host, ConnApp {
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

  /**
   * Connections a drain left with work it could do at once (output the
   * window would take, commands ready to run) and no driver event to
   * come: the next drain (`again`) serves them with the POLL's (volatile;
   * a resume serves every connection anyway).
   */
  readonly owed = new Set<number>();

  /** {@inheritDoc ConnApp.newClientId}: CLIENT ID's numbers, kept in the store's record. */
  newClientId(): number {
    return this.record.takeClientId();
  }

  /** Per connection, the input bytes the last parse said it needs before it can go on (volatile). */
  private readonly need = new Map<number, number>();

  /**
   * Runs one command for a program in the machine (protocol.ts COMMAND): in
   * database 0, by a session that lasts for the call. Returns its reply;
   * E_MESSAGE_TOO_LARGE when that is longer than one message (the command
   * has run).
   */
  runForProgram(argv: Uint8Array[]): Uint8Array {
    if (argv.length === 0) {
      throw new TardigradeError(Err.E_BAD_MESSAGE, "kv COMMAND: no command name; send argv");
    }
    const out = new OutputWriter(256);
    this.commands.execute(newSession(0, "ipc"), argv, out);
    if (out.length > MESSAGE_PAYLOAD_BYTES_MAX) {
      throw new TardigradeError(
        Err.E_MESSAGE_TOO_LARGE,
        `kv COMMAND: the reply has ${out.length} bytes, more than one message; ask over TCP (redis-cli)`,
      );
    }
    return out.bytes().slice();
  }

  /** True when `conn`'s input may hold a command not run yet (its output not over the stall). */
  wouldRun(conn: Conn): boolean {
    if (conn.session.closing) return false;
    if (this.conns.pendingBytes(conn, "out") > OUTPUT_STALL_BYTES) return false;
    const pending = this.conns.pendingBytes(conn, "in");
    return pending > 0 && pending >= (this.need.get(conn.handle) ?? 0);
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
    if (!this.wouldRun(conn)) return out.bytes();
    const buf = this.conns.pending(conn, "in");
    const stall = OUTPUT_STALL_BYTES - this.conns.pendingBytes(conn, "out");
    let from = 0;
    this.need.delete(conn.handle);
    while (from < buf.length && !session.closing && out.length <= stall) {
      const r = parseCommand(buf, from, { maxBulkBytes: this.maxBulkBytes });
      if (r.kind === "incomplete") {
        // Parsed again only once that much is there: a large bulk is not re-read per window.
        this.need.set(conn.handle, r.needBytes);
        break;
      }
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

/** What one drain does with a connection's output: where the bytes offered come from. */
interface Outgoing {
  conn: Conn;
  /** The bytes offered to SEND_MANY. */
  bytes: Uint8Array;
  /** True: `bytes` are fresh replies (what is not taken goes into the output buffer). */
  direct: boolean;
  /** Bytes left behind this drain's share (kept in the output buffer or not offered yet). */
  left: boolean;
}

/**
 * Serves `conns` in one drain with the batched calls: one RECV_MANY pass
 * for every connection that may read (not closing, not stalled behind
 * its output), every complete command of each run, one SEND_MANY pass for
 * every connection's replies and waiting output (at most
 * {@link SEND_SHARE_BYTES} each, so one client's backlog never fills the
 * shared transmit ring before the others' replies), then the closes. A
 * connection left with output it could still send makes the drain ask
 * for another (`again`), in a step of its own.
 */
async function serve(net: Sockets, store: Store, conns: Conn[]): Promise<void> {
  const live = new Set(conns);
  const drop = (conn: Conn) => {
    live.delete(conn);
    store.conns.remove(conn);
  };
  /** Runs `fn` for `conn`; a full heap closes only this client (E_NO_MEMORY), a gone one is dropped. */
  const guard = (conn: Conn, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (gone(e)) return drop(conn);
      if (!(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY)) throw e;
      store.conns.dropBuffers(conn);
      store.conns.setFlags(conn, FLAG_CLOSING);
    }
  };

  // Receive: everything the driver has for each reader, in as few calls as the bytes need.
  const readers = conns.filter((c) =>
    !(store.conns.flags(c) & FLAG_CLOSING) &&
    store.conns.pendingBytes(c, "out") <= OUTPUT_STALL_BYTES
  );
  const got = readers.length > 0
    ? await net.recvAll(readers.map((c) => c.handle))
    : new Map<number, Gathered>();
  for (const conn of readers) {
    const g = got.get(conn.handle);
    if (!g) continue;
    if (g.err === Err.E_NOT_FOUND) {
      drop(conn);
      continue;
    }
    guard(conn, () => {
      if (store.conns.pendingBytes(conn, "in") + g.bytes.length > INPUT_BYTES_MAX) {
        throw new TardigradeError(
          Err.E_NO_MEMORY,
          `kv: connection ${conn.handle}: query buffer full`,
        );
      }
      store.conns.append(conn, "in", g.bytes);
      if (g.eof) store.conns.setFlags(conn, FLAG_CLOSING);
    });
  }

  // Run every complete command; gather what each connection has to send.
  const outgoing: Outgoing[] = [];
  for (const conn of conns) {
    if (!live.has(conn)) continue;
    guard(conn, () => {
      const replies = store.run(conn);
      if (store.conns.pendingBytes(conn, "out") === 0) {
        const bytes = replies.slice(0, SEND_SHARE_BYTES);
        const rest = replies.subarray(bytes.length);
        if (rest.length > 0) store.conns.append(conn, "out", rest);
        if (bytes.length > 0) outgoing.push({ conn, bytes, direct: true, left: rest.length > 0 });
        return;
      }
      store.conns.append(conn, "out", replies);
      const waiting = store.conns.pending(conn, "out");
      const bytes = waiting.slice(0, SEND_SHARE_BYTES);
      outgoing.push({ conn, bytes, direct: false, left: waiting.length > bytes.length });
    });
  }

  // Send: fresh replies first, backlogs after, in as few calls as the bytes need.
  outgoing.sort((a, b) => a.bytes.length - b.bytes.length);
  const sent = outgoing.length > 0
    ? await net.sendAll(outgoing.map((o) => ({ conn: o.conn.handle, bytes: o.bytes })))
    : [];
  const owed = (conn: Conn) => store.owed.add(conn.handle);
  outgoing.forEach((o, k) => {
    const { conn } = o, a = sent[k];
    if (!live.has(conn)) return;
    if (a.err !== Err.OK && a.err !== Err.E_WOULD_BLOCK) return drop(conn);
    guard(conn, () => {
      if (o.direct) store.conns.append(conn, "out", o.bytes.subarray(a.taken));
      else store.conns.consume(conn, "out", a.taken);
    });
    // All of its share taken and more waits: the window had room, so no WRITABLE will come.
    if (a.taken === o.bytes.length && o.left) owed(conn);
  });

  // Close those closing whose output is all out; a stalled reader with room again reads next time.
  for (const conn of conns) {
    if (!live.has(conn)) continue;
    const flags = store.conns.flags(conn), waiting = store.conns.pendingBytes(conn, "out");
    if ((flags & FLAG_CLOSING) && waiting === 0) {
      try {
        if (await net.close(conn.handle)) drop(conn);
      } catch (e) {
        if (!gone(e)) throw e;
        drop(conn);
      }
    } else if (!(flags & FLAG_CLOSING) && waiting <= OUTPUT_STALL_BYTES) {
      if (store.conns.pendingBytes(conn, "in") > 0 && store.wouldRun(conn)) owed(conn);
    }
  }
  for (const handle of store.owed) {
    const conn = store.conns.get(handle);
    if (conn === undefined || !live.has(conn)) store.owed.delete(handle);
  }
  if (store.owed.size > 0) await net.again();
}

/** One drain: every connection the POLL's entries and the last drain's `again` name, served at once. */
async function drain(net: Sockets, store: Store, events: NetEvent[]): Promise<void> {
  const conns = await connsToServe(net, store, events);
  if (conns.length > 0) await serve(net, store, conns);
}

runProgram(async (ctx) => {
  const port = typeof ctx.args.port === "number" ? ctx.args.port : KV_PORT_DEFAULT;
  const pages = typeof ctx.args.pages === "number" ? ctx.args.pages : KV_HEAP_PAGES_DEFAULT;
  const { heap, keyspace, fresh } = openStore(await lastingPmo(ctx, "heap", pages));
  const store = new Store(keyspace, new ConnTable(heap), new AppRecord(heap, Date.now()), port);
  await store.refreshFigures(ctx);
  await serveService(ctx, "kv", (req) => {
    if (req.label !== KvLabel.COMMAND) {
      throw new TardigradeError(Err.E_NOT_SUPPORTED, `kv: no operation with label ${req.label}`);
    }
    return store.runForProgram(decodeCommand(req.payload));
  });
  const net = await Sockets.openBatch(ctx, (events, net) => drain(net, store, events));
  await ctx.onNotification(ctx.cap(CapName.TIMER), async () => {
    keyspace.now = Date.now();
    keyspace.expireSome(EXPIRE_KEYS_PER_TICK);
    await store.refreshFigures(ctx);
  });
  await net.listen(port);
  await serveAtStart(net, store, (conns) => serve(net, store, conns));
  const heapMb = (pages * PAGE_BYTES / 1024 / 1024).toFixed(0);
  ctx.log(
    `kv: listening on port ${port} (${fresh ? "new" : "kept"} store, ${heapMb} MiB heap, ` +
      `${store.conns.all().length} connections kept)`,
  );
});
