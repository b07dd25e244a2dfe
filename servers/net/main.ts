/**
 * The network driver. It answers STATUS and ECHO, and SEND: bytes for a
 * connection become one DATA frame (kernel/abi/net_link.ts) at that
 * connection's outbound offset, written into the NIC's transmit ring
 * (kernel/abi/nic.ts). The board sends the frame to the switch once the
 * checkpoint covering this step commits. CLOSE writes a FIN frame after the
 * connection's last byte. The outbound offset of each
 * connection lives in the driver's state PMO, written in the same step as
 * the frame, so a checkpoint holds both or neither.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { encodeFrame, FRAME_DATA_MAX, FrameType } from "../../kernel/abi/net_link.ts";
import { NicTxWriter } from "../../kernel/abi/nic.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import { PAGE_BYTES } from "../../kernel/abi/limits.ts";
import type { Request } from "../runtime/ipc.ts";
import { CapName } from "../runtime/names.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import { lastingPmo, serveService } from "../runtime/service.ts";
import { NetLabel } from "./protocol.ts";

/** One connection's entry in the state PMO: u32 id (0: free), u32 closed at +4, f64 outbound offset at +8. */
const ENTRY_BYTES = 16;
/** Connections the state page holds. */
const CONNECTIONS_MAX = PAGE_BYTES / ENTRY_BYTES;

/** The transmit ring's writer, or undefined when init granted no NIC. */
async function nicWriter(ctx: Context): Promise<NicTxWriter | undefined> {
  const slot = ctx.names.get(CapName.NIC);
  if (slot === undefined) return undefined;
  const m = await ctx.sys.pmoMap(slot, true);
  if (!m.register) {
    throw new TardigradeError(Err.E_WRONG_KIND, `net: capability "nic" is not the NIC's ring`);
  }
  return new NicTxWriter(m.buffers, m.register);
}

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  const tx = await nicWriter(ctx);

  /** Byte offset of connection `conn`'s entry, made if new. */
  const entryOf = (conn: number): number => {
    let free = -1;
    for (let i = 0; i < CONNECTIONS_MAX; i++) {
      const id = state.getU32(i * ENTRY_BYTES);
      if (id === conn) return i * ENTRY_BYTES;
      if (id === 0 && free === -1) free = i * ENTRY_BYTES;
    }
    if (free === -1) {
      throw new TardigradeError(Err.E_LIMIT, `net: more than ${CONNECTIONS_MAX} connections`);
    }
    state.setU32(free, conn);
    state.setU32(free + 4, 0);
    state.setF64(free + 8, 0);
    return free;
  };

  /** Writes `frame` into the transmit ring; E_WOULD_BLOCK while unreleased frames fill it. */
  const transmit = (writer: NicTxWriter, frame: Uint8Array): void => {
    if (writer.write(frame)) return;
    throw new TardigradeError(
      Err.E_WOULD_BLOCK,
      `net: the transmit ring is full of frames no commit has released; send again after the next checkpoint`,
    );
  };

  /** The entry of open connection `conn` (made if new), with the NIC's writer. */
  const openEntry = (conn: number, what: string): { at: number; writer: NicTxWriter } => {
    if (!tx) throw new TardigradeError(Err.E_NOT_FOUND, "net: no NIC (init granted none)");
    if (conn === 0) {
      throw new TardigradeError(Err.E_BAD_ARGUMENT, `net: ${what} on connection 0`);
    }
    const at = entryOf(conn);
    if (state.getU32(at + 4) !== 0) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `net: ${what} on connection ${conn}: it is closed`,
      );
    }
    return { at, writer: tx };
  };

  const send = (req: Request): Uint8Array => {
    const r = new PayloadReader(req.payload, "net SEND");
    const conn = r.u32();
    const bytes = r.rest();
    if (bytes.length > FRAME_DATA_MAX) {
      throw new TardigradeError(
        Err.E_LIMIT,
        `net: SEND of ${bytes.length} bytes: at most ${FRAME_DATA_MAX}`,
      );
    }
    const { at, writer } = openEntry(conn, "SEND");
    const off = state.getF64(at + 8);
    transmit(writer, encodeFrame(FrameType.DATA, conn, off, bytes));
    state.setF64(at + 8, off + bytes.length);
    return new PayloadWriter(8).f64(off + bytes.length).done();
  };

  const close = (req: Request): Uint8Array => {
    const r = new PayloadReader(req.payload, "net CLOSE");
    const conn = r.u32();
    r.end();
    const { at, writer } = openEntry(conn, "CLOSE");
    const off = state.getF64(at + 8);
    transmit(writer, encodeFrame(FrameType.FIN, conn, off));
    state.setU32(at + 4, 1);
    return new PayloadWriter(8).f64(off).done();
  };

  const handle = (req: Request) => {
    if (req.label === NetLabel.SEND) return send(req);
    if (req.label === NetLabel.CLOSE) return close(req);
    throw new TardigradeError(Err.E_NOT_SUPPORTED, `net: no operation ${req.label}`);
  };
  await serveService(ctx, "net", handle);
});
