/**
 * The wire between the switch (hw/switch.ts) and the machine's NIC: framed,
 * sequence-numbered byte streams over a Unix socket.
 *
 * Map of this file:
 * - {@link LinkFrame}: what one frame says, by {@link FrameType}.
 * - {@link encodeFrame}: a frame's bytes (a 20-byte header, then the data).
 * - {@link FrameReader}: frames back out of a byte stream that may cut
 *   them anywhere; a frame that cannot be one (unknown type, a length past
 *   {@link FRAME_DATA_MAX}) is an error value, never a guess.
 *
 * Header, little-endian: u32 data length, u8 type, u8 0, u16 port, u32
 * connection, f64 offset (a byte offset in that connection's stream in the
 * frame's direction; a safe integer).
 *
 * Every byte of a connection has an offset in its stream, in each
 * direction, counted from the connection's first byte. The machine says how
 * far its committed state got (SYNC, ACK); the switch re-sends the rest of
 * an inbound stream and drops outbound bytes below what it has delivered, so
 * a re-sent tail reaches the client once.
 *
 * @module
 */

import { Err, TardigradeError } from "./errors.ts";

/** Frame types. Switch → machine: OPEN, DATA, FIN, GONE, ACK, SYNC_DONE. Machine → switch: HELLO, LISTEN, SYNC, SYNC_END, ACK, DATA, FIN. */
export enum FrameType {
  /** machine → switch: a machine (fresh or resumed) is on the link; SYNC frames follow. */
  HELLO = 1,
  /** machine → switch: a program listens on `port`. */
  LISTEN = 2,
  /** machine → switch: the committed state holds connection `conn` and consumed its inbound stream up to `off`. */
  SYNC = 3,
  /** machine → switch: the SYNC list is complete; the switch re-sends what the machine lacks. */
  SYNC_END = 4,
  /**
   * machine → switch: inbound bytes of `conn` below `off` are consumed by a
   * committed checkpoint (the switch may drop them, and may send up to
   * `off` + {@link RX_WINDOW_BYTES}); switch → machine: outbound bytes of
   * `conn` below `off` are delivered to the client (the machine may send up
   * to `off` + {@link TX_WINDOW_BYTES}).
   */
  ACK = 5,
  /** both ways: bytes of `conn` at stream offset `off`. */
  DATA = 6,
  /** machine → switch: the program closed `conn` after `off` outbound bytes; switch → machine: the client sent its last byte at `off`. */
  FIN = 7,
  /** switch → machine: a new connection `conn` on `port`. */
  OPEN = 8,
  /**
   * switch → machine: the switch knows no connection `conn` (any more): the
   * machine's FIN was delivered and the client closed, or the SYNC list
   * named a connection the switch never had. The machine forgets it.
   */
  GONE = 9,
  /** switch → machine: the switch has re-sent what the machine lacked. */
  SYNC_DONE = 10,
}

/** One frame on the link. */
export interface LinkFrame {
  type: FrameType;
  conn: number;
  port: number;
  off: number;
  data: Uint8Array;
}

/**
 * Inbound flow control: the switch sends a connection's bytes only up to
 * its last ACK (or SYNC) plus this window, so the network driver buffers at
 * most this much per connection that its program has not received.
 */
export const RX_WINDOW_BYTES = 4 * 1024;

/**
 * Outbound flow control: the network driver sends a connection's bytes only
 * up to what the switch last ACKed as delivered plus this window, so the
 * switch holds at most this much per connection for a client that does not
 * read.
 */
export const TX_WINDOW_BYTES = 256 * 1024;

/** Header bytes of a frame. */
export const FRAME_HEADER_BYTES = 20;
/** Most data bytes one frame carries. */
export const FRAME_DATA_MAX = 64 * 1024;

const EMPTY = new Uint8Array(0);

/** The bytes of one frame (`data` at most {@link FRAME_DATA_MAX} bytes). */
export function encodeFrame(
  type: FrameType,
  conn: number,
  off = 0,
  data: Uint8Array = EMPTY,
  port = 0,
): Uint8Array {
  if (data.length > FRAME_DATA_MAX) {
    throw new TardigradeError(
      Err.E_LIMIT,
      `link frame of ${data.length} bytes: split data into frames of at most ${FRAME_DATA_MAX}`,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length, true);
  v.setUint8(4, type);
  v.setUint16(6, port, true);
  v.setUint32(8, conn, true);
  v.setFloat64(12, off, true);
  out.set(data, FRAME_HEADER_BYTES);
  return out;
}

/** Reassembles frames from chunks of a byte stream. */
export class FrameReader {
  private buf = new Uint8Array(0);

  /** Adds a chunk; returns the frames now complete, in order. Throws E_BAD_MESSAGE on garbage. */
  push(chunk: Uint8Array): LinkFrame[] {
    if (this.buf.length === 0) {
      this.buf = chunk.slice();
    } else {
      const joined = new Uint8Array(this.buf.length + chunk.length);
      joined.set(this.buf);
      joined.set(chunk, this.buf.length);
      this.buf = joined;
    }
    const frames: LinkFrame[] = [];
    let at = 0;
    while (this.buf.length - at >= FRAME_HEADER_BYTES) {
      const v = new DataView(this.buf.buffer, this.buf.byteOffset + at, FRAME_HEADER_BYTES);
      const length = v.getUint32(0, true);
      const type = v.getUint8(4);
      const off = v.getFloat64(12, true);
      if (
        length > FRAME_DATA_MAX || !(type in FrameType) || !Number.isSafeInteger(off) || off < 0
      ) {
        throw new TardigradeError(
          Err.E_BAD_MESSAGE,
          `link: not a frame (type ${type}, length ${length}, offset ${off}); the peer is not speaking the NIC link protocol`,
        );
      }
      if (this.buf.length - at < FRAME_HEADER_BYTES + length) break;
      const start = at + FRAME_HEADER_BYTES;
      frames.push({
        type: type as FrameType,
        port: v.getUint16(6, true),
        conn: v.getUint32(8, true),
        off,
        data: this.buf.slice(start, start + length),
      });
      at = start + length;
    }
    this.buf = this.buf.subarray(at);
    return frames;
  }
}

/** Splits `data` at stream offset `off` into DATA frames of at most {@link FRAME_DATA_MAX} bytes. */
export function dataFrames(conn: number, off: number, data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += FRAME_DATA_MAX) {
    out.push(encodeFrame(FrameType.DATA, conn, off + i, data.subarray(i, i + FRAME_DATA_MAX)));
  }
  return out;
}

/** Writes all of `bytes` to `w` (a socket's write may take only part of them). */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await w.write(bytes.subarray(at));
}

/** The chunks joined into one buffer (the one chunk itself when there is one): one write for a batch. */
export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
