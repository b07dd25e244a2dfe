/**
 * The part every program shares:
 * - {@link serveService}: serve its endpoint (the capability named
 *   "service", given by init), answer STATUS and ECHO, and pass every other
 *   label to the server's own handler (or E_NOT_SUPPORTED);
 * - {@link lastingPmo}, {@link lastingConnection} and
 *   {@link lastingNotification}: a memory object, a connection and a
 *   notification found again by name after a resume or a restart (their
 *   slots are kept in the program's slot record, names.ts).
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { Label, type ServerStatus } from "../protocol.ts";
import { type ClientConnection, type HandlerResult, jsonPayload, type Request } from "./ipc.ts";
import { CapName } from "./names.ts";
import type { PersistentMemory } from "../../kernel/abi/pmem.ts";
import type { Context } from "./program.ts";

/**
 * Serves this component's endpoint. `handle` gets every request whose label
 * is not STATUS or ECHO.
 */
export async function serveService(
  ctx: Context,
  name: string,
  handle?: (req: Request) => HandlerResult,
): Promise<void> {
  let requests = 0;
  await ctx.serve(ctx.cap(CapName.SERVICE), (req) => {
    requests++;
    switch (req.label) {
      case Label.STATUS: {
        const status: ServerStatus = { name, requests, resumed: ctx.resumed, badge: req.badge };
        return jsonPayload(status);
      }
      case Label.ECHO:
        return req.payload;
      default:
        if (handle) return handle(req);
        throw new TardigradeError(
          Err.E_NOT_SUPPORTED,
          `${name} server has no operation with label ${req.label}`,
          { label: req.label },
        );
    }
  });
}

/** True for the errors a kept slot gives when what it named never reached a checkpoint. */
function goneSlot(e: unknown): boolean {
  return e instanceof TardigradeError &&
    (e.code === Err.E_EMPTY_SLOT || e.code === Err.E_WRONG_KIND);
}

/**
 * A memory object of `pages` pages kept under `name`: created and recorded
 * on a first start, mapped again (same contents) on a resume or restart.
 * Needs a slot record (programs started by init have one).
 */
export async function lastingPmo(
  ctx: Context,
  name: string,
  pages: number,
): Promise<PersistentMemory> {
  const key = `pmo:${name}`;
  const kept = ctx.names.get(key);
  if (kept !== undefined) {
    try {
      return await ctx.map(kept);
    } catch (e) {
      if (!goneSlot(e)) throw e;
    }
  }
  const slot = await ctx.sys.pmoCreate(pages);
  ctx.names.remember(key, slot);
  return ctx.map(slot);
}

/**
 * A client connection that survives restarts, to the endpoint named
 * `endpoint` (e.g. "fs"): the first start connects and keeps the
 * connection's slot in the slot record; a resume or restart re-attaches it
 * (connecting afresh if the first start died before its connection reached
 * a checkpoint).
 */
export async function lastingConnection(
  ctx: Context,
  endpoint: string,
): Promise<ClientConnection> {
  const key = `conn:${endpoint}`;
  const kept = ctx.names.get(key);
  if (kept !== undefined) {
    try {
      return await ctx.attach(kept);
    } catch (e) {
      if (!goneSlot(e)) throw e;
    }
  }
  const conn = await ctx.connect(ctx.cap(endpoint));
  ctx.names.remember(key, conn.slot);
  return conn;
}

/**
 * A notification kept under `name`: created and recorded on a first start,
 * the same one on a resume or restart (created afresh if the first start
 * died before it reached a checkpoint). `created` says which, so the caller
 * binds it (irq_bind, cap_transfer) once.
 */
export async function lastingNotification(
  ctx: Context,
  name: string,
): Promise<{ slot: number; created: boolean }> {
  const key = `notif:${name}`;
  const kept = ctx.names.get(key);
  if (kept !== undefined) {
    try {
      const info = await ctx.sys.capInfo(kept);
      if (info.kind === "NOTIFICATION") return { slot: kept, created: false };
    } catch (e) {
      if (!goneSlot(e)) throw e;
    }
  }
  const slot = await ctx.sys.notificationCreate();
  ctx.names.remember(key, slot);
  return { slot, created: true };
}
