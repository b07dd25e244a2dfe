/**
 * The part every server shares: serve its endpoint (slot 2, given by init),
 * answer STATUS and ECHO, and pass every other label to the server's own
 * handler (or E_NOT_SUPPORTED).
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { SERVICE_SLOT } from "../init/config.ts";
import { Label, type ServerStatus } from "../protocol.ts";
import { type ClientConnection, type HandlerResult, jsonPayload, type Request } from "./ipc.ts";
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
  await ctx.serve(SERVICE_SLOT, (req) => {
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

/**
 * A client connection that survives restarts: on a first start it connects
 * to the endpoint in `endpointSlot` (the capability must land in
 * `connSlot`, the lowest free slot); on a resume or restart it re-attaches
 * the connection capability in `connSlot` (connecting afresh if the first
 * start died before it connected).
 */
export async function lastingConnection(
  ctx: Context,
  endpointSlot: number,
  connSlot: number,
): Promise<ClientConnection> {
  if (ctx.resumed) {
    try {
      return await ctx.attach(connSlot);
    } catch (e) {
      if (!(e instanceof TardigradeError && e.code === Err.E_EMPTY_SLOT)) throw e;
    }
  }
  const conn = await ctx.connect(endpointSlot);
  if (conn.slot !== connSlot) {
    throw new TardigradeError(
      Err.E_INTERNAL,
      `${ctx.name}: the connection to slot ${endpointSlot} landed in slot ${conn.slot}, expected ${connSlot}`,
    );
  }
  return conn;
}
