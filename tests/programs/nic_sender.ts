/**
 * Test program: listens on port `port` (its argument, default 7070) and
 * logs "nic_sender: listening"; the first connection it accepts gets
 * `nic-sender says hello` and is closed (a FIN after the text), then it
 * logs "nic_sender: sent" (a diagnostic, out at once) so a test knows the
 * frames are in the NIC's transmit ring. A flag in its own PMO, set in the
 * same step, keeps it from sending twice. Started by tests/hw/nic_tx_test.ts,
 * whose stand-in switch OPENs the connection.
 *
 * @module
 */

import { HandleKind, SocketEvent } from "../../servers/net/protocol.ts";
import { Sockets } from "../../servers/runtime/net.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";

/** What the program sends. */
export const NIC_SENDER_TEXT = "nic-sender says hello";

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  const port = typeof ctx.args.port === "number" ? ctx.args.port : 7070;
  const net = await Sockets.open(ctx, async (handle, kind, events, net) => {
    if (kind !== HandleKind.LISTENER || !(events & SocketEvent.ACCEPTABLE)) return;
    const conn = await net.accept(handle);
    if (conn === undefined || state.getU32(0) !== 0) return;
    await net.send(conn, new TextEncoder().encode(NIC_SENDER_TEXT));
    await net.close(conn);
    state.setU32(0, 1);
    ctx.log(`nic_sender: sent on ${conn}`);
  });
  await net.listen(port);
  ctx.log("nic_sender: listening");
});
