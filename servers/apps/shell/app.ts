/**
 * The shell app's serving loop ({@link runShell}): a line-oriented shell
 * over TCP, one session per connection, and one more on the boot
 * terminal when init granted the console input device
 * (console_session.ts), with the file commands
 * (commands.ts) over an FsApi (main.ts gives it the file system's client
 * library). The protocol and its framing: session.ts. Args: `port`
 * (default {@link SHELL_PORT_DEFAULT}), `pages` (its heap).
 *
 * Everything lasting is in ONE lasting PMO, a persistent heap
 * (servers/pmem/heap.ts) holding the kv store's connection table
 * (servers/apps/kv/conns.ts): per connection its unparsed input, its
 * unsent output, and the session's state (current directory, the command
 * under way: session.ts {@link ShellState}) as JSON text in the record's
 * name field. Written in the step that changed it, so a session survives a
 * crash of the machine: the switch keeps the TCP connection, the resumed
 * shell finds the record, and the bytes the committed state had not
 * consumed are sent again.
 *
 * One step per POLL: every connection it names (and every one the last
 * step left work for) receives what it has, runs its complete requests
 * within a {@link Budget} of file-system calls and bytes, and sends its
 * replies, at most {@link SEND_SHARE_BYTES} each. Work left (a long `rm
 * -r`, `tree`, `put`, `get`, or more requests) goes on in a step of its
 * own (`again`), so no step runs long; so does a `sync`, whose wait for
 * the checkpoint lets that checkpoint cut its step (commands.ts), and
 * never in `main` (the first POLL and the kept connections are served
 * there: {@link ShellApp.starting}). A connection with more than
 * {@link OUTPUT_STALL_BYTES} of replies unsent runs nothing more until
 * they drain (WRITABLE).
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import type { PersistentMemory } from "../../../kernel/abi/pmem.ts";
import type { NetEvent } from "../../net/protocol.ts";
import { SHELL_HEAP_PAGES_DEFAULT, SHELL_PORT_DEFAULT } from "../../init/config.ts";
import type { FsApi } from "../../fs/vfs.ts";
import { Sockets } from "../../runtime/net.ts";
import type { Context } from "../../runtime/program.ts";
import { lastingPmo } from "../../runtime/service.ts";
import { type ConnApp, connsToServe, serveAtStart } from "../kv/accept.ts";
import { type Conn, ConnTable, FLAG_CLOSING } from "../kv/conns.ts";
import { PersistentHeap } from "../../pmem/heap.ts";
import { Budget, Shell } from "./commands.ts";
import { monitorOf } from "./system_commands.ts";
import { kvOf } from "./kv_commands.ts";
import { decodeState, encodeState, Reply, type ShellState } from "./session.ts";
import { ConsoleSession } from "./console_session.ts";

export { SHELL_PORT_DEFAULT };

/** Unsent reply bytes past which a connection runs nothing more until they drain. */
export const OUTPUT_STALL_BYTES = 512 * 1024;
/** Output bytes one connection offers per step at most (the transmit ring is shared). */
export const SEND_SHARE_BYTES = 16 * 1024;
/** Unparsed input a connection may keep (a `put` payload is written as it comes). */
const INPUT_BYTES_MAX = 1024 * 1024;

/** The shell's volatile side over its lasting connection table. */
class ShellApp implements ConnApp {
  /** Connections the last step left work for, served by the next (volatile: a resume serves all). */
  readonly owed = new Set<number>();
  /**
   * True until {@link runShell} is done: steps run then are part of `main`
   * (the first POLL, the kept connections), which may not wait for a
   * checkpoint, so a `sync` waits for the first step after it.
   */
  starting = true;

  constructor(readonly conns: ConnTable, readonly shell: Shell, readonly port: number) {}

  /** {@inheritDoc ConnApp.newClientId}: a session is known by its connection's handle. */
  newClientId(handle: number): number {
    return handle;
  }

  /** The session state of `conn`'s record. */
  state(conn: Conn): ShellState {
    return decodeState(conn.session.name);
  }

  /**
   * Runs what `conn`'s input holds within one step's budget: the job
   * under way, then request after request. Returns the replies and whether
   * work is left that no event will bring back.
   */
  async run(conn: Conn): Promise<{ replies: Uint8Array; more: boolean }> {
    const s = this.state(conn), out = new Reply();
    const { consumed, more } = await this.shell.serve(
      s,
      this.conns.pending(conn, "in"),
      out,
      new Budget(undefined, undefined, !this.starting),
      () =>
        this.conns.pendingBytes(conn, "out") + out.length <= OUTPUT_STALL_BYTES &&
        out.length < 4 * SEND_SHARE_BYTES,
    );
    this.conns.consume(conn, "in", consumed);
    conn.session.name = encodeState(s);
    this.conns.saveSession(conn);
    return { replies: out.take(), more };
  }
}

/** True for E_NOT_FOUND: the driver has forgotten the connection (closed or gone). */
function gone(e: unknown): boolean {
  return e instanceof TardigradeError && e.code === Err.E_NOT_FOUND;
}

/**
 * Runs `fn` for `conn`; the heap full (E_NO_MEMORY: its buffers or its
 * state would not fit) closes only this client, as the kv store does.
 */
async function full(table: ConnTable, conn: Conn, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof TardigradeError && e.code === Err.E_NO_MEMORY)) throw e;
    table.dropBuffers(conn);
    table.setFlags(conn, FLAG_CLOSING);
  }
}

/** Serves `conns` in one step: receive, run, send, close (see the module doc). */
async function serve(net: Sockets, app: ShellApp, conns: Conn[]): Promise<void> {
  const table = app.conns;
  const live = new Set(conns);
  const drop = (conn: Conn) => {
    live.delete(conn);
    table.remove(conn);
  };
  const readers = conns.filter((c) =>
    !(table.flags(c) & FLAG_CLOSING) && table.pendingBytes(c, "in") < INPUT_BYTES_MAX
  );
  const got = readers.length > 0 ? await net.recvAll(readers.map((c) => c.handle)) : new Map();
  for (const conn of readers) {
    const g = got.get(conn.handle);
    if (!g) continue;
    if (g.err === Err.E_NOT_FOUND) {
      drop(conn);
      continue;
    }
    await full(table, conn, () => {
      table.append(conn, "in", g.bytes);
      if (g.eof) table.setFlags(conn, FLAG_CLOSING);
    });
  }
  const owed = new Set<Conn>();
  for (const conn of conns) {
    if (!live.has(conn)) continue;
    if (table.pendingBytes(conn, "out") > OUTPUT_STALL_BYTES) continue;
    await full(table, conn, async () => {
      const { replies, more } = await app.run(conn);
      table.append(conn, "out", replies);
      if (more) owed.add(conn);
    });
  }
  const outgoing = conns.filter((c) => live.has(c) && table.pendingBytes(c, "out") > 0);
  const items = outgoing.map((c) => ({
    conn: c.handle,
    bytes: table.pending(c, "out").slice(0, SEND_SHARE_BYTES),
  }));
  const sent = items.length > 0 ? await net.sendAll(items) : [];
  outgoing.forEach((conn, k) => {
    const a = sent[k];
    if (a.err !== Err.OK && a.err !== Err.E_WOULD_BLOCK) return drop(conn);
    table.consume(conn, "out", a.taken);
    // All of its share taken and more waits: the window had room, so no WRITABLE will come.
    if (a.taken === items[k].bytes.length && table.pendingBytes(conn, "out") > 0) owed.add(conn);
  });
  for (const conn of conns) {
    if (!live.has(conn)) continue;
    // Work left keeps it open (owed); a put whose payload never came ends with the EOF.
    const idle = !owed.has(conn);
    if ((table.flags(conn) & FLAG_CLOSING) && idle && table.pendingBytes(conn, "out") === 0) {
      try {
        if (await net.close(conn.handle)) drop(conn);
      } catch (e) {
        if (!gone(e)) throw e;
        drop(conn);
      }
    }
  }
  app.owed.clear();
  for (const conn of owed) if (live.has(conn)) app.owed.add(conn.handle);
  if (app.owed.size > 0 && !app.starting) await net.again();
}

/** One step: every connection the POLL's entries and the last step's `again` name, served at once. */
async function drain(net: Sockets, app: ShellApp, events: NetEvent[]): Promise<void> {
  const conns = await connsToServe(net, app, events);
  if (conns.length > 0) await serve(net, app, conns);
}

/** The heap in `mem`: formatted when `mem` is fresh (zero), attached otherwise. */
function openHeap(mem: PersistentMemory): { heap: PersistentHeap; fresh: boolean } {
  if (mem.bytes.subarray(0, 64).every((b) => b === 0)) {
    return { heap: PersistentHeap.format(mem, 0), fresh: true };
  }
  return { heap: PersistentHeap.attach(mem), fresh: false };
}

/**
 * Serves the shell on `ctx.args.port` with the commands over `fs`: maps
 * (or makes) its heap, finds every kept connection, listens, and serves
 * what the last run left before anything new.
 */
export async function runShell(ctx: Context, fs: FsApi): Promise<void> {
  const port = typeof ctx.args.port === "number" ? ctx.args.port : SHELL_PORT_DEFAULT;
  const pages = typeof ctx.args.pages === "number" ? ctx.args.pages : SHELL_HEAP_PAGES_DEFAULT;
  const { heap, fresh } = openHeap(await lastingPmo(ctx, "heap", pages));
  const app = new ShellApp(new ConnTable(heap), new Shell(fs, monitorOf(ctx), kvOf(ctx)), port);
  const net = await Sockets.openBatch(ctx, (events, net) => drain(net, app, events));
  await net.listen(port);
  // Connections waiting for a close, ring room or a job get no new event after a resume.
  await serveAtStart(net, app, (conns) => serve(net, app, conns));
  // The console session: its steps run one at a time with the sockets' (one heap, one shell).
  const terminal = await ConsoleSession.open(
    ctx,
    heap,
    app.shell,
    (fn) => net.exclusive(fn),
    () => app.starting,
  );
  await terminal?.wake();
  app.starting = false;
  if (app.owed.size > 0) await net.again();
  ctx.log(
    `shell: listening on port ${port} (${fresh ? "new" : "kept"} sessions, ` +
      `${app.conns.all().length} connections kept)` +
      (terminal ? "; serving the console" : ""),
  );
}
