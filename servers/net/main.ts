/**
 * The network driver: wiring only. It maps its lasting state (the socket
 * records and the inbound windows, servers/net/sockets.ts), the NIC's
 * transmit ring ("nic", kernel/abi/nic.ts) and its receive PMO ("nic-rx",
 * kernel/abi/nic_rx.ts: the connection table and the receive ring), binds a
 * notification to the NIC's IRQ ("nic-irq"), and serves the socket calls of
 * servers/net/protocol.ts beside STATUS and ECHO.
 *
 * Each IRQ is one step: read the frames the board wrote, apply them, free
 * them from the ring, signal the clients whose sockets gained events. Each
 * call is one step too, its frames (DATA, FIN) written into the transmit
 * ring with the state that says they were sent, so a checkpoint holds both
 * or neither; the board sends them once that checkpoint commits, and sends
 * the LISTEN, ACK and SYNC frames itself from the committed table.
 *
 * A driver without "nic-rx" answers every socket call E_NOT_FOUND.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import type { LinkFrame } from "../../kernel/abi/net_link.ts";
import { NicTxWriter } from "../../kernel/abi/nic.ts";
import { NicRxReader, NicTable } from "../../kernel/abi/nic_rx.ts";
import { PayloadReader, PayloadWriter } from "../../kernel/abi/payload.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { hasRights, Right } from "../../kernel/abi/rights.ts";
import type { Request } from "../runtime/ipc.ts";
import { CapName } from "../runtime/names.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import { lastingNotification, lastingPmo, serveService } from "../runtime/service.ts";
import {
  decodeRecvMany,
  decodeSendMany,
  encodePoll,
  encodeRecvManyReply,
  encodeSendManyReply,
  NetLabel,
} from "./protocol.ts";
import { INBOUND_PAGES, SOCKET_STATE_PAGES, Sockets } from "./sockets.ts";

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

/** The connection table and the receive ring's reader, or undefined without "nic-rx". */
async function nicReceiver(
  ctx: Context,
): Promise<{ table: NicTable; reader: NicRxReader } | undefined> {
  const slot = ctx.names.get(CapName.NIC_RX);
  if (slot === undefined) return undefined;
  const m = await ctx.sys.pmoMap(slot, true);
  if (!m.register) {
    throw new TardigradeError(Err.E_WRONG_KIND, `net: capability "nic-rx" is not the NIC's PMO`);
  }
  return {
    table: new NicTable(new PersistentMemory(m.buffers), m.buffers),
    reader: new NicRxReader(m.buffers, m.register),
  };
}

/** Decodes one socket call and makes it; the reply's payload. */
function call(ctx: Context, sockets: Sockets, req: Request): Uint8Array | void {
  const r = new PayloadReader(req.payload, `net ${NetLabel[req.label]}`);
  const b = req.badge;
  switch (req.label) {
    case NetLabel.LISTEN: {
      const port = r.u32();
      r.end();
      return sockets.listen(b, port);
    }
    case NetLabel.ACCEPT: {
      const port = r.u32();
      r.end();
      return new PayloadWriter(4).u32(sockets.accept(b, port)).done();
    }
    case NetLabel.RECV: {
      const conn = r.u32(), max = r.u32();
      r.end();
      const got = sockets.recv(b, conn, max);
      return new PayloadWriter().bytes(Uint8Array.of(got.eof ? 1 : 0)).bytes(got.bytes).done();
    }
    case NetLabel.SEND: {
      const conn = r.u32();
      return new PayloadWriter(4).u32(sockets.send(b, conn, r.rest())).done();
    }
    case NetLabel.SHUTDOWN:
    case NetLabel.CLOSE: {
      const conn = r.u32();
      r.end();
      return req.label === NetLabel.CLOSE ? sockets.close(b, conn) : sockets.shutdown(b, conn);
    }
    case NetLabel.REGISTER: {
      const slot = r.u32();
      r.end();
      sockets.register(b, slot);
      return checkRegistered(ctx, sockets, b, slot);
    }
    case NetLabel.POLL:
      r.end();
      return encodePoll(sockets.poll(b));
    case NetLabel.RECV_MANY:
      return encodeRecvManyReply(sockets.recvMany(b, decodeRecvMany(req.payload)));
    case NetLabel.SEND_MANY:
      return encodeSendManyReply(sockets.sendMany(b, decodeSendMany(req.payload)));
    default:
      throw new TardigradeError(Err.E_NOT_SUPPORTED, `net: no operation ${req.label}`);
  }
}

/**
 * Checks, in the same step, that a registered slot is a notification the
 * driver may signal; forgets it (and says so in the log) if it is not.
 */
function checkRegistered(ctx: Context, sockets: Sockets, badge: number, slot: number): void {
  const forget = (why: string) => {
    sockets.unregister(badge, slot);
    ctx.log(`net: client ${badge} registered slot ${slot}, ${why}; not signalling it`);
  };
  ctx.sys.capInfo(slot).then(
    (info) => {
      if (info.kind !== "NOTIFICATION") forget(`a ${info.kind}`);
      else if (!hasRights(info.rights, Right.SEND)) forget("without SEND");
    },
    (e) => forget((e as Error).message),
  );
}

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "sockets", SOCKET_STATE_PAGES);
  const inbound = await lastingPmo(ctx, "inbound", INBOUND_PAGES);
  const tx = await nicWriter(ctx);
  const rx = await nicReceiver(ctx);
  const sockets = rx
    ? new Sockets({ state, inbound, table: rx.table, tx, log: (t) => ctx.log(t) })
    : undefined;

  /** Signals the clients owed one (the system calls finish inside this step). */
  const signal = (s: Sockets) => {
    for (const slot of s.takeSignals()) {
      ctx.sys.notificationSignal(slot).catch((e) =>
        ctx.log(`net: signalling slot ${slot} failed: ${(e as Error).message}`)
      );
    }
  };

  if (rx && sockets) {
    /** One IRQ: the frames the board wrote, applied, freed, and the clients told. */
    const onIrq = () => {
      let frames: LinkFrame[];
      try {
        frames = rx.reader.read();
      } catch (e) {
        ctx.log(`net: the receive ring holds no frame (${(e as Error).message}); skipped`);
        frames = [];
      }
      sockets.applyFrames(frames);
      rx.reader.consume();
      signal(sockets);
    };
    const irq = await lastingNotification(ctx, "nic-irq");
    if (irq.created) await ctx.sys.irqBind(ctx.cap(CapName.NIC_IRQ), irq.slot, 1);
    await ctx.onNotification(irq.slot, onIrq);
    onIrq(); // frames the board wrote before this start
  }

  await serveService(ctx, "net", (req) => {
    if (!sockets) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `net: no NIC (init granted no "${CapName.NIC_RX}"); boot with --net`,
      );
    }
    try {
      return call(ctx, sockets, req);
    } finally {
      signal(sockets);
    }
  });
});
