/**
 * Test program: at its first start sends `nic-sender says hello` on
 * connection `conn` (its argument, default 7) through the network driver
 * and closes the connection (a FIN after the text), then logs "nic_sender: sent" (a diagnostic, out at once) so a test knows
 * the frame is in the NIC's transmit ring. A flag in its own PMO, set in the
 * same step, keeps it from sending twice. Started by tests/hw/nic_tx_test.ts.
 *
 * @module
 */

import { NetClient } from "../../servers/net/protocol.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingConnection, lastingPmo } from "../../servers/runtime/service.ts";

/** What the program sends. */
export const NIC_SENDER_TEXT = "nic-sender says hello";

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  if (state.getU32(0) !== 0) return;
  const net = new NetClient(await lastingConnection(ctx, "net"));
  const conn = typeof ctx.args.conn === "number" ? ctx.args.conn : 7;
  await net.send(conn, new TextEncoder().encode(NIC_SENDER_TEXT));
  const off = await net.close(conn);
  state.setU32(0, 1);
  ctx.log(`nic_sender: sent (offset ${off})`);
});
