/**
 * The connections one step of a TCP app over a {@link ConnTable} serves
 * (the kv store and the shell): those the last step still owed, those
 * waiting on the listener, and those the POLL named; a HUP removes its
 * connection instead.
 *
 * @module
 */

import { HandleKind, type NetEvent, SocketEvent } from "../../net/protocol.ts";
import type { Sockets } from "../../runtime/net.ts";
import type { Conn, ConnTable } from "./conns.ts";

/** A TCP app serving the connections of a {@link ConnTable}. */
export interface ConnApp {
  /** The port it listens on. */
  readonly port: number;
  readonly conns: ConnTable;
  /** Handles the last step could not finish and no event will bring back (its `again`). */
  readonly owed: Set<number>;
  /** The client id a connection accepted now gets. */
  newClientId(handle: number): number;
}

/** Accepts every connection waiting on the app's port; returns them (they may have bytes already). */
export async function acceptAll(net: Sockets, app: ConnApp): Promise<Conn[]> {
  const out: Conn[] = [];
  for (;;) {
    const handle = await net.accept(app.port);
    if (handle === undefined) return out;
    const conn = app.conns.get(handle) ??
      app.conns.add(handle, app.newClientId(handle), Date.now());
    if (conn === undefined) await net.close(handle);
    else out.push(conn);
  }
}

/** The connections this step serves, given the POLL's entries; clears what was owed. */
export async function connsToServe(
  net: Sockets,
  app: ConnApp,
  events: NetEvent[],
): Promise<Conn[]> {
  const touched = new Set<Conn>();
  for (const handle of app.owed) {
    const conn = app.conns.get(handle);
    if (conn !== undefined) touched.add(conn);
  }
  app.owed.clear();
  for (const e of events) {
    if (e.kind === HandleKind.LISTENER) {
      for (const conn of await acceptAll(net, app)) touched.add(conn);
      continue;
    }
    const conn = app.conns.get(e.handle);
    if (conn === undefined) continue;
    if (e.events & SocketEvent.HUP) {
      touched.delete(conn);
      app.conns.remove(conn);
      continue;
    }
    touched.add(conn);
  }
  return [...touched];
}

/**
 * At start (and after a resume), when connections waiting for a close, for
 * ring room or with work left get no new event: serves every kept one,
 * then accepts and serves those waiting on the listener, as one step.
 */
export async function serveAtStart(
  net: Sockets,
  app: ConnApp,
  serve: (conns: Conn[]) => Promise<void>,
): Promise<void> {
  await net.exclusive(async () => {
    const kept = app.conns.all();
    if (kept.length > 0) await serve(kept);
    const fresh = await acceptAll(net, app);
    if (fresh.length > 0) await serve(fresh);
  });
}
