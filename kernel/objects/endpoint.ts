/**
 * Endpoints and connections.
 *
 * An endpoint is a service name; a thread holding RECEIVE serves it. A client
 * holding CALL opens a connection: a PMO of its own carrying the two rings,
 * shared only by the client, the server and the kernel. The server learns
 * the connection (and the badge of the capability it came through) from an
 * "accept" event posted by the kernel, never from the shared buffer.
 *
 * Map of this file:
 * - offer: {@link offer} tells a server of a connection (and the client where to ring).
 * - close: {@link setClosedWord}, {@link closeConnection}, {@link closeConnectionsOf}
 *   (a thread died: its peers see E_PEER_DIED).
 * - reattach: {@link reattachConnections} after a thread's worker (re)starts.
 * - resume: {@link servesEndpoint}, {@link requestsWaiting} (which restored
 *   threads stay dormant, and which wake at once).
 * - {@link endpointSyscalls}: endpoint_create, endpoint_serve, connect, conn_attach.
 *
 * @module
 */

import { Err, TardigradeError } from "../abi/errors.ts";
import { CONN_PAGES, ConnWord } from "../abi/layout.ts";
import { CLIENT_CONNECTIONS_MAX, ENDPOINT_CONNECTIONS_MAX } from "../abi/limits.ts";
import type { ConnectionHandle } from "../abi/protocol.ts";
import { Right, RIGHTS_ALL } from "../abi/rights.ts";
import type { KernelServices } from "../services.ts";
import { PersistentMemory } from "../abi/pmem.ts";
import type { LiveThread } from "../threads.ts";
import { type ConnectionRecord, type EndpointRecord, ObjKind } from "./records.ts";
import { checkRoom } from "../room.ts";

/** Posts an accept event for `c` to its server (and the server's doorbell to the client). */
export async function offer(
  k: KernelServices,
  ep: EndpointRecord,
  c: ConnectionRecord,
): Promise<void> {
  const ring = await k.pmos.ensureLoaded(c.pmo);
  const conn: ConnectionHandle = {
    connId: c.id,
    ring,
    peerDoorbell: k.doorbellOf(c.client),
    badge: c.badge,
    slot: ep.serverSlot,
  };
  k.postEvent(ep.server, { t: "accept", endpointSlot: ep.serverSlot, conn });
  // The client may have connected before anyone served: tell it where to ring now.
  k.postEvent(c.client, {
    t: "peer-doorbell",
    connId: c.id,
    peerDoorbell: k.doorbellOf(ep.server),
  });
}

/**
 * Sets the CLOSED word both sides read (through the write barrier: the ring is
 * persistent). A closed ring refuses new calls with E_PEER_DIED.
 */
export function setClosedWord(k: KernelServices, c: ConnectionRecord, closed: boolean): void {
  const bufs = k.pmos.loadedBuffers(c.pmo);
  if (bufs) new PersistentMemory(bufs).atomicStore(ConnWord.CLOSED, closed ? 1 : 0);
}

/** Closes a connection for good: both sides see CLOSED; the ring PMO is freed. */
export function closeConnection(k: KernelServices, c: ConnectionRecord, reason: string): void {
  k.table.update(c, { closed: true });
  setClosedWord(k, c, true);
  k.postEvent(c.server, { t: "closed", connId: c.id, reason });
  k.postEvent(c.client, { t: "closed", connId: c.id, reason });
}

/**
 * Marks every connection of `threadId` closed (not for good: a restart
 * reopens them) and tells the other sides, with whether the thread is being
 * `restarting` (then a call still waiting in a ring is served by the new worker).
 */
export function closeConnectionsOf(
  k: KernelServices,
  threadId: number,
  reason: string,
  restarting: boolean,
): void {
  for (const c of k.table.ofKind(ObjKind.CONNECTION)) {
    if (c.client !== threadId && c.server !== threadId) continue;
    setClosedWord(k, c, true);
    const other = c.client === threadId ? c.server : c.client;
    k.postEvent(other, { t: "closed", connId: c.id, reason, restarting });
  }
}

/** After a (re)start of `live`: give the thread back its connections, and its peers its new doorbell. */
export function reattachConnections(k: KernelServices, live: LiveThread): void {
  for (const c of k.table.ofKind(ObjKind.CONNECTION)) {
    if (c.closed) continue;
    if (c.server === live.rec.id || c.client === live.rec.id) setClosedWord(k, c, false);
    // A running server dropped the connection when this client died: offer it again. A
    // dormant one (resume) is offered every connection when it wakes and serves again.
    if (c.client === live.rec.id && k.threads.has(c.server) && !k.isDormant(c.server)) {
      const ep = k.table.get(c.endpoint);
      if (ep?.kind === ObjKind.ENDPOINT && ep.server === c.server) offer(k, ep, c);
    }
    if (c.server === live.rec.id) {
      k.postEvent(
        c.client,
        { t: "peer-doorbell", connId: c.id, peerDoorbell: live.doorbell },
        false,
      );
    }
  }
}

/** True when thread `threadId` serves an endpoint. */
export function servesEndpoint(k: KernelServices, threadId: number): boolean {
  for (const e of k.table.ofKind(ObjKind.ENDPOINT)) if (e.server === threadId) return true;
  return false;
}

/** Resolves true when requests wait in the ring of an open connection `threadId` serves. */
export async function requestsWaiting(k: KernelServices, threadId: number): Promise<boolean> {
  const checks: Array<Promise<boolean>> = [];
  for (const c of k.table.ofKind(ObjKind.CONNECTION)) {
    if (c.server !== threadId || c.closed) continue;
    checks.push(
      k.pmos.ensureLoaded(c.pmo).then((b) => {
        const w = new Int32Array(b.data);
        return w[ConnWord.REQ_HEAD] !== w[ConnWord.REQ_TAIL];
      }),
    );
  }
  return (await Promise.all(checks)).some((pending) => pending);
}

/** Endpoint and connection system calls, by name. */
export const endpointSyscalls = {
  endpoint_create(k: KernelServices, t: LiveThread): number {
    const g = t.rec.group;
    checkRoom(k, { slots: [[g, 1]], records: [g, g] }); // the endpoint and its capability
    const ep = k.table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 }, g);
    return k.caps.insertOriginal(g, ep.id, RIGHTS_ALL);
  },

  async endpoint_serve(k: KernelServices, t: LiveThread, args: unknown[]): Promise<number> {
    const { obj: ep, cap } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.ENDPOINT,
      Right.RECEIVE,
      "endpoint_serve",
    );
    const other = k.threads.get(ep.server);
    if (ep.server !== 0 && ep.server !== t.rec.id && other && !other.dead) {
      throw new TardigradeError(
        Err.E_EXISTS,
        `endpoint_serve: endpoint ${ep.id} is already served by thread ${ep.server}`,
        { endpoint: ep.id },
      );
    }
    k.table.update(ep, { server: t.rec.id, serverSlot: cap.slot });
    let offered = 0;
    for (const c of [...k.table.ofKind(ObjKind.CONNECTION)]) {
      if (c.endpoint !== ep.id || c.closed) continue;
      if (c.server !== t.rec.id) k.table.update(c, { server: t.rec.id });
      await offer(k, ep, c);
      offered++;
    }
    // Connections closed for good are told again: the first "closed" is volatile, lost when the
    // server was not running (restarting, dormant) or when a crash came before a cut covered its
    // handling. A server's close handling must be idempotent.
    for (const c of k.table.ofKind(ObjKind.CONNECTION)) {
      if (c.endpoint !== ep.id || !c.closed) continue;
      k.postEvent(t.rec.id, {
        t: "closed",
        connId: c.id,
        reason: "closed for good before this serve",
        endpointSlot: cap.slot,
      });
    }
    return offered;
  },

  async connect(k: KernelServices, t: LiveThread, args: unknown[]): Promise<ConnectionHandle> {
    const { obj: ep, cap } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.ENDPOINT,
      Right.CALL,
      "connect",
    );
    let open = 0, mine = 0;
    for (const c of k.table.ofKind(ObjKind.CONNECTION)) {
      if (c.endpoint !== ep.id || c.closed) continue;
      open++;
      if (c.charged === t.rec.group) mine++;
    }
    if (mine >= CLIENT_CONNECTIONS_MAX) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `connect: this cap group has ${mine} open connections to endpoint ${ep.id}, the most one client may; reuse or close one`,
        { endpoint: ep.id, limit: CLIENT_CONNECTIONS_MAX },
      );
    }
    if (open >= ENDPOINT_CONNECTIONS_MAX) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `connect: endpoint ${ep.id} has ${open} open connections, the most it takes`,
        { endpoint: ep.id, limit: ENDPOINT_CONNECTIONS_MAX },
      );
    }
    // The ring PMO, the connection and its capability, all charged to the caller.
    const g = t.rec.group;
    checkRoom(k, { slots: [[g, 1]], pmo: [CONN_PAGES, g], records: [g, g, g] });
    const pmo = k.pmos.create(CONN_PAGES, "ring", t.rec.group);
    const c = k.table.create(ObjKind.CONNECTION, {
      endpoint: ep.id,
      client: t.rec.id,
      server: ep.server,
      badge: cap.badge,
      pmo: pmo.id,
      viaCap: cap.id,
      closed: false,
    }, t.rec.group);
    const slot = k.caps.insertOriginal(t.rec.group, c.id, Right.CALL | Right.GRANT | Right.READ);
    if (ep.server !== 0) await offer(k, ep, c);
    return {
      connId: c.id,
      ring: await k.pmos.ensureLoaded(pmo.id),
      peerDoorbell: k.doorbellOf(ep.server),
      badge: 0,
      slot,
    };
  },

  async conn_attach(k: KernelServices, t: LiveThread, args: unknown[]): Promise<ConnectionHandle> {
    const { obj: c, cap } = k.caps.lookup(
      t.rec.group,
      args[0],
      ObjKind.CONNECTION,
      Right.CALL,
      "conn_attach",
    );
    if (c.closed) {
      throw new TardigradeError(Err.E_PEER_DIED, `conn_attach: connection ${c.id} is closed`, {
        conn: c.id,
      });
    }
    if (c.client !== t.rec.id) k.table.update(c, { client: t.rec.id });
    return {
      connId: c.id,
      ring: await k.pmos.ensureLoaded(c.pmo),
      peerDoorbell: k.doorbellOf(c.server),
      badge: 0,
      slot: cap.slot,
    };
  },
};
