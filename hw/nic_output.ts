/**
 * What the NIC's transmit side holds and has released, per connection, for
 * outside viewers (machine line `{t:"net"}` under --report-ms; the
 * dashboard shows it). Output waits in the transmit ring until the
 * checkpoint covering it has committed (hw/nic.ts); this counts, from the
 * DATA frames' stream offsets (so a re-send after a resume is not counted
 * twice):
 *
 * - released: the end of the furthest DATA frame written to the link;
 * - held: how far the ring's frames past RELEASED reach beyond that.
 *
 * Counting costs a parse of each frame sent, so the NIC does it only when
 * asked (--report-ms).
 *
 * @module
 */

import { FrameReader, FrameType, type LinkFrame } from "../kernel/abi/net_link.ts";
import { type NicEntry, NicEntryKind } from "../kernel/abi/nic_rx.ts";

/** Connections counted at most (the oldest forgotten first). */
export const NET_CONNECTIONS_SHOWN_MAX = 256;

/** One connection's outbound bytes, as the `{t:"net"}` line carries them. */
export interface NetOutput {
  conn: number;
  /** Its port, while the committed connection table holds it. */
  port?: number;
  /** Bytes written to the link (stream offset reached). */
  releasedBytes: number;
  /** Bytes in the transmit ring beyond that: waiting for their checkpoint's commit or the link. */
  heldBytes: number;
}

/** The per-connection count of one NIC. */
export class NicOutputCount {
  /** Stream offset each connection's released DATA reached. */
  private readonly released = new Map<number, number>();

  /** Counts frames the NIC has just written to the link. */
  sent(bytes: Uint8Array): void {
    for (const f of framesOf(bytes)) {
      const end = dataEnd(f);
      if (end > (this.released.get(f.conn) ?? 0)) this.released.set(f.conn, end);
    }
    while (this.released.size > NET_CONNECTIONS_SHOWN_MAX) {
      this.released.delete(this.released.keys().next().value!);
    }
  }

  /**
   * Every connection with output so far: `held` are the ring's frames past
   * RELEASED (whole frames), `table` the committed connection table (ports).
   */
  report(held: Uint8Array, table: NicEntry[]): NetOutput[] {
    const heldEnd = new Map<number, number>();
    for (const f of framesOf(held)) {
      heldEnd.set(f.conn, Math.max(heldEnd.get(f.conn) ?? 0, dataEnd(f)));
    }
    const ports = new Map<number, number>();
    for (const e of table) if (e.kind === NicEntryKind.CONN) ports.set(e.conn, e.port);
    const conns = new Set([...this.released.keys(), ...heldEnd.keys()]);
    return [...conns].sort((a, b) => a - b).map((conn) => {
      const releasedBytes = this.released.get(conn) ?? 0;
      return {
        conn,
        port: ports.get(conn),
        releasedBytes,
        heldBytes: Math.max(0, (heldEnd.get(conn) ?? 0) - releasedBytes),
      };
    });
  }
}

/** The frames in `bytes` (whole frames from a frame boundary); none if they do not parse. */
function framesOf(bytes: Uint8Array): LinkFrame[] {
  if (bytes.length === 0) return [];
  try {
    return new FrameReader().push(bytes);
  } catch {
    return [];
  }
}

/** Where a DATA frame's bytes end in its stream; 0 for other frames. */
function dataEnd(f: LinkFrame): number {
  return f.type === FrameType.DATA ? f.off + f.data.length : 0;
}
