/**
 * Endpoints and connections.
 *
 * An endpoint is a service name; a thread holding RECEIVE serves it. A client
 * holding CALL opens a connection: a PMO of its own carrying the two rings,
 * shared only by the client, the server and the kernel. The server learns
 * the connection (and the badge of the capability it came through) from an
 * "accept" event posted by the kernel, never from the shared buffer.
 *
 * @module
 */

import { Err, TardigradeError } from "../abi/errors.ts";
import { CONN_PAGES, ConnWord } from "../abi/layout.ts";
import { CLIENT_CONNECTIONS_MAX, ENDPOINT_CONNECTIONS_MAX } from "../abi/limits.ts";
import type { ConnectionHandle } from "../abi/protocol.ts";
import { Right } from "../abi/rights.ts";
import type { Kernel } from "../kernel.ts";
import { PersistentMemory } from "../abi/pmem.ts";
import type { LiveThread } from "../threads.ts";
import { type ConnectionRecord, type EndpointRecord, ObjKind } from "./records.ts";
import { checkRoom } from "../room.ts";

/** The doorbell of `threadId` if it runs, else a fresh one nobody waits on (replaced on restart). */
function doorbellOf(k: Kernel, threadId: number): SharedArrayBuffer {
  return k.doorbellOf(threadId);
}

/** Posts an accept event for `c` to its server (and the server's doorbell to the client). */
export async function offer(k: Kernel, ep: EndpointRecord, c: ConnectionRecord): Promise<void> {
  const ring = await k.pmos.ensureLoaded(c.pmo);
  const conn: ConnectionHandle = {
    connId: c.id,
    ring,
    peerDoorbell: doorbellOf(k, c.client),
    badge: c.badge,
    slot: ep.serverSlot,
  };
  k.postEvent(ep.server, { t: "accept", endpointSlot: ep.serverSlot, conn });
  // The client may have connected before anyone served: tell it where to ring now.
  k.postEvent(c.client, {
    t: "peer-doorbell",
    connId: c.id,
    peerDoorbell: doorbellOf(k, ep.server),
  });
}

/**
 * Sets the CLOSED word both sides read (through the write barrier: the ring is
 * persistent). A closed ring refuses new calls with E_PEER_DIED.
 */
export function setClosedWord(k: Kernel, c: ConnectionRecord, closed: boolean): void {
  const bufs = k.pmos.loadedBuffers(c.pmo);
  if (bufs) new PersistentMemory(bufs).atomicStore(ConnWord.CLOSED, closed ? 1 : 0);
}

/** Closes a connection for good: both sides see CLOSED; the ring PMO is freed. */
export function closeConnection(k: Kernel, c: ConnectionRecord, reason: string): void {
  k.table.update(c, { closed: true });
  setClosedWord(k, c, true);
  k.postEvent(c.server, { t: "closed", connId: c.id, reason });
  k.postEvent(c.client, { t: "closed", connId: c.id, reason });
}

/** Endpoint and connection system calls, by name. */
export const endpointSyscalls = {
  endpoint_create(k: Kernel, t: LiveThread): number {
    const g = t.rec.group;
    checkRoom(k, { slots: [[g, 1]], records: [g, g] }); // the endpoint and its capability
    const ep = k.table.create(ObjKind.ENDPOINT, { server: 0, serverSlot: 0 }, g);
    return k.caps.insertOriginal(g, ep.id, 0x3f);
  },

  async endpoint_serve(k: Kernel, t: LiveThread, args: unknown[]): Promise<number> {
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
    return offered;
  },

  async connect(k: Kernel, t: LiveThread, args: unknown[]): Promise<ConnectionHandle> {
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
      peerDoorbell: doorbellOf(k, ep.server),
      badge: 0,
      slot,
    };
  },

  async conn_attach(k: Kernel, t: LiveThread, args: unknown[]): Promise<ConnectionHandle> {
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
      peerDoorbell: doorbellOf(k, c.server),
      badge: 0,
      slot: cap.slot,
    };
  },
};
