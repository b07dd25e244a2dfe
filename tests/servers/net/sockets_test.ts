/**
 * The network driver's socket table (servers/net/sockets.ts) on its own:
 * frames are written by the board's side into a receive PMO
 * (NicRxWriter), read back by NicRxReader and applied; calls are made
 * as the driver's handlers make them; what the driver transmits is read
 * back from the transmit ring.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { PAGE_BYTES } from "../../../kernel/abi/limits.ts";
import {
  consoleHead,
  newConsoleRegister,
  readConsole,
  setConsoleReleased,
} from "../../../kernel/abi/console.ts";
import {
  encodeFrame,
  FrameReader,
  FrameType,
  type LinkFrame,
  RX_WINDOW_BYTES,
  TX_WINDOW_BYTES,
} from "../../../kernel/abi/net_link.ts";
import { NIC_TX_RING_BYTES, NicTxWriter } from "../../../kernel/abi/nic.ts";
import {
  decodeNicTable,
  newNicRxRegister,
  NIC_RX_PAGES,
  NIC_TABLE_ENTRIES,
  NicEntryKind,
  NicRxReader,
  NicRxWriter,
  NicTable,
  nicTableBytes,
} from "../../../kernel/abi/nic_rx.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../../kernel/abi/pmem.ts";
import {
  INBOUND_PAGES,
  RecordField,
  SOCKET_STATE_PAGES,
  Sockets,
} from "../../../servers/net/sockets.ts";
import {
  decodeRecvManyReply,
  decodeSendManyReply,
  encodeRecvManyReply,
  encodeSendManyReply,
  HandleKind,
  SocketEvent,
} from "../../../servers/net/protocol.ts";
import { MESSAGE_PAYLOAD_BYTES_MAX } from "../../../kernel/abi/limits.ts";

const PORT = 7007;
const OWNER = 1;
const NOTIFICATION_SLOT = 42;
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** A driver's state, a receive PMO with the board's writer, and a transmit ring. */
function machine() {
  const rx = allocatePmoBuffers(1, NIC_RX_PAGES);
  const txBufs = allocatePmoBuffers(2, 1 + NIC_TX_RING_BYTES / PAGE_BYTES);
  const txRegister = newConsoleRegister(0);
  const state = new PersistentMemory(allocatePmoBuffers(3, SOCKET_STATE_PAGES));
  const inbound = new PersistentMemory(allocatePmoBuffers(4, INBOUND_PAGES));
  const table = new NicTable(new PersistentMemory(rx), rx);
  const logs: string[] = [];
  const sockets = new Sockets({
    state,
    inbound,
    table,
    tx: new NicTxWriter(txBufs, txRegister),
    log: (t) => logs.push(t),
  });
  let register = newNicRxRegister();
  let board = new NicRxWriter(rx, register);
  let reader = new NicRxReader(rx, register);
  return {
    sockets,
    table,
    state,
    rx,
    txBufs,
    logs,
    /** The board writes `frames`, raises the IRQ; the driver applies and consumes them. */
    deliver(...frames: Uint8Array[]) {
      for (const f of frames) assert.ok(board.write(f), "the receive ring has room");
      sockets.applyFrames(reader.read());
      reader.consume();
    },
    /** A resume: the receive register starts empty again; the PMOs are as they were. */
    resume() {
      register = newNicRxRegister();
      board = new NicRxWriter(rx, register);
      reader = new NicRxReader(rx, register);
    },
    /** Every frame the driver wrote into the transmit ring. */
    transmitted(): LinkFrame[] {
      return new FrameReader().push(readConsole(txBufs, 0, consoleHead(txBufs)));
    },
    /** The board released everything (the commit and the send to the switch happened). */
    release() {
      setConsoleReleased(txRegister, consoleHead(txBufs));
    },
  };
}

const open = (conn: number, port = PORT) => encodeFrame(FrameType.OPEN, conn, 0, undefined, port);
const data = (conn: number, off: number, s: string) =>
  encodeFrame(FrameType.DATA, conn, off, text(s));

/** A machine whose OWNER listens on PORT, registered, with connection `conn` accepted. */
function accepted(conn = 0x5001) {
  const m = machine();
  m.sockets.listen(OWNER, PORT);
  m.sockets.register(OWNER, NOTIFICATION_SLOT);
  m.deliver(open(conn));
  assert.equal(m.sockets.accept(OWNER, PORT), conn);
  m.sockets.takeSignals();
  m.sockets.poll(OWNER);
  return m;
}

/** A machine like {@link accepted}, with every one of `conns` accepted. */
function acceptedAll(...conns: number[]) {
  const m = accepted(conns[0]);
  for (const c of conns.slice(1)) {
    m.deliver(open(c));
    assert.equal(m.sockets.accept(OWNER, PORT), c);
  }
  m.sockets.takeSignals();
  m.sockets.poll(OWNER);
  return m;
}

function code(fn: () => unknown): Err {
  try {
    fn();
  } catch (e) {
    if (e instanceof TardigradeError) return e.code;
    throw e;
  }
  assert.fail("expected a TardigradeError");
}

Deno.test("sockets: an OPEN on a listened port signals ACCEPTABLE and ACCEPT returns the oldest connection", () => {
  const m = machine();
  m.sockets.listen(OWNER, PORT);
  m.sockets.register(OWNER, NOTIFICATION_SLOT);
  m.deliver(open(0x5001), open(0x5002));
  assert.deepEqual(m.sockets.takeSignals(), [NOTIFICATION_SLOT]);
  assert.deepEqual(m.sockets.takeSignals(), [], "a signal is owed once");
  assert.deepEqual(m.sockets.poll(OWNER), [
    { handle: PORT, kind: HandleKind.LISTENER, events: SocketEvent.ACCEPTABLE },
  ]);
  assert.deepEqual(m.sockets.poll(OWNER), [], "POLL clears what it returned");
  assert.equal(m.sockets.accept(OWNER, PORT), 0x5001);
  assert.equal(m.sockets.accept(OWNER, PORT), 0x5002);
  assert.equal(code(() => m.sockets.accept(OWNER, PORT)), Err.E_WOULD_BLOCK);
  const conns = decodeNicTable(nicTableBytes(m.rx)).filter((e) => e.kind === NicEntryKind.CONN);
  assert.deepEqual(conns.map((e) => e.conn), [0x5001, 0x5002], "both are in the NIC's table");
});

Deno.test("sockets: DATA is received in order and RECV advances consumed in the NIC's table", () => {
  const m = accepted();
  m.deliver(data(0x5001, 0, "hello "), data(0x5001, 6, "world"));
  assert.deepEqual(m.sockets.takeSignals(), [NOTIFICATION_SLOT]);
  assert.deepEqual(m.sockets.poll(OWNER), [
    { handle: 0x5001, kind: HandleKind.CONNECTION, events: SocketEvent.READABLE },
  ]);
  const first = m.sockets.recv(OWNER, 0x5001, 4);
  assert.equal(str(first.bytes), "hell");
  assert.equal(first.eof, false);
  const i = m.table.find((e) => e.conn === 0x5001);
  assert.equal(m.table.get(i).consumed, 4);
  assert.equal(str(m.sockets.recv(OWNER, 0x5001, 100).bytes), "o world");
  assert.equal(m.table.get(i).consumed, 11);
  assert.equal(code(() => m.sockets.recv(OWNER, 0x5001, 100)), Err.E_WOULD_BLOCK);
});

Deno.test("sockets: the same frames again after a resume change nothing; an overlapping re-send adds only its new bytes", () => {
  const m = machine();
  m.sockets.listen(OWNER, PORT);
  m.sockets.register(OWNER, NOTIFICATION_SLOT);
  const frames = [open(0x5001), data(0x5001, 0, "abc"), encodeFrame(FrameType.FIN, 0x5001, 6)];
  m.deliver(...frames);
  m.sockets.takeSignals();
  const state = m.state.bytes.slice();
  const table = nicTableBytes(m.rx);
  m.resume();
  m.deliver(...frames);
  assert.deepEqual(m.state.bytes, state, "the state PMO is unchanged");
  assert.deepEqual(nicTableBytes(m.rx), table, "the NIC's table is unchanged");
  assert.deepEqual(m.sockets.takeSignals(), [], "nobody is signalled");
  m.deliver(data(0x5001, 1, "bcdef"));
  assert.equal(m.sockets.accept(OWNER, PORT), 0x5001);
  const got = m.sockets.recv(OWNER, 0x5001, 100);
  assert.equal(str(got.bytes), "abcdef");
  assert.equal(got.eof, true);
});

Deno.test("sockets: a FIN is EOF once the bytes before it are received", () => {
  const m = accepted();
  m.deliver(data(0x5001, 0, "abc"), encodeFrame(FrameType.FIN, 0x5001, 5));
  const before = m.sockets.recv(OWNER, 0x5001, 100);
  assert.deepEqual([str(before.bytes), before.eof], ["abc", false]);
  assert.equal(code(() => m.sockets.recv(OWNER, 0x5001, 100)), Err.E_WOULD_BLOCK);
  m.deliver(data(0x5001, 3, "de"));
  const last = m.sockets.recv(OWNER, 0x5001, 100);
  assert.deepEqual([str(last.bytes), last.eof], ["de", true]);
  const again = m.sockets.recv(OWNER, 0x5001, 100);
  assert.deepEqual([again.bytes.length, again.eof], [0, true], "EOF stays");
});

Deno.test("sockets: DATA that leaves a gap or passes the receive window is dropped and logged", () => {
  const m = accepted();
  m.deliver(data(0x5001, 5, "late"));
  m.deliver(encodeFrame(FrameType.DATA, 0x5001, 0, new Uint8Array(RX_WINDOW_BYTES)));
  m.sockets.recv(OWNER, 0x5001, 1); // consumed 1: the window ends at RX_WINDOW_BYTES + 1
  m.deliver(encodeFrame(FrameType.DATA, 0x5001, RX_WINDOW_BYTES, text("ab")));
  assert.equal(m.logs.length, 2, m.logs.join("\n"));
  const i = m.table.find((e) => e.conn === 0x5001);
  assert.equal(m.state.getF64(i * RecordField.BYTES + RecordField.RECEIVED), RX_WINDOW_BYTES);
});

Deno.test("sockets: GONE on an open connection gives its owner HUP and frees the table entry", () => {
  const m = accepted();
  m.deliver(encodeFrame(FrameType.GONE, 0x5001));
  assert.deepEqual(decodeNicTable(nicTableBytes(m.rx)).map((e) => e.kind), [NicEntryKind.LISTEN]);
  assert.deepEqual(m.sockets.takeSignals(), [NOTIFICATION_SLOT]);
  assert.deepEqual(m.sockets.poll(OWNER), [
    { handle: 0x5001, kind: HandleKind.CONNECTION, events: SocketEvent.HUP },
  ]);
  assert.equal(code(() => m.sockets.recv(OWNER, 0x5001, 1)), Err.E_NOT_FOUND, "forgotten");
});

Deno.test("sockets: CLOSE writes a FIN at the sent offset; SEND after it is E_NOT_FOUND", () => {
  const m = accepted();
  assert.equal(m.sockets.send(OWNER, 0x5001, text("hi")), 2);
  m.sockets.close(OWNER, 0x5001);
  const sent = m.transmitted().map((f) => [f.type, f.conn, f.off, str(f.data)]);
  assert.deepEqual(sent, [[FrameType.DATA, 0x5001, 0, "hi"], [FrameType.FIN, 0x5001, 2, ""]]);
  assert.equal(code(() => m.sockets.send(OWNER, 0x5001, text("x"))), Err.E_NOT_FOUND);
  assert.equal(code(() => m.sockets.close(OWNER, 0x5001)), Err.E_NOT_FOUND, "closed once");
  assert.equal(m.transmitted().length, 2, "no second FIN");
});

Deno.test("sockets: SEND past the transmit window is E_WOULD_BLOCK until an ACK, which signals WRITABLE", () => {
  const m = accepted();
  const chunk = new Uint8Array(1000);
  let sent = 0;
  for (;;) {
    let n: number;
    try {
      n = m.sockets.send(OWNER, 0x5001, chunk);
    } catch (e) {
      assert.equal((e as TardigradeError).code, Err.E_WOULD_BLOCK);
      break;
    }
    sent += n;
    m.release(); // the board sends each frame at once: only the window holds it back
  }
  assert.equal(sent, TX_WINDOW_BYTES, "exactly the window went out");
  m.deliver(encodeFrame(FrameType.ACK, 0x5001, 0)); // nothing new delivered
  assert.deepEqual(m.sockets.takeSignals(), []);
  m.deliver(encodeFrame(FrameType.ACK, 0x5001, 1000));
  assert.deepEqual(m.sockets.takeSignals(), [NOTIFICATION_SLOT]);
  assert.deepEqual(m.sockets.poll(OWNER), [
    { handle: 0x5001, kind: HandleKind.CONNECTION, events: SocketEvent.WRITABLE },
  ]);
  assert.equal(m.sockets.send(OWNER, 0x5001, chunk), 1000);
});

Deno.test("sockets: another client's socket is E_NOT_OWNER, its port E_EXISTS", () => {
  const m = accepted();
  const other = OWNER + 1;
  assert.equal(code(() => m.sockets.recv(other, 0x5001, 1)), Err.E_NOT_OWNER);
  assert.equal(code(() => m.sockets.send(other, 0x5001, text("x"))), Err.E_NOT_OWNER);
  assert.equal(code(() => m.sockets.close(other, 0x5001)), Err.E_NOT_OWNER);
  assert.equal(code(() => m.sockets.accept(other, PORT)), Err.E_NOT_OWNER);
  assert.equal(code(() => m.sockets.listen(other, PORT)), Err.E_EXISTS);
  m.sockets.listen(OWNER, PORT); // the owner again: fine
  assert.deepEqual(m.sockets.poll(other), []);
});

Deno.test("sockets: an OPEN when the table is full is refused with a FIN at offset 0", () => {
  const m = machine();
  m.sockets.listen(OWNER, PORT);
  for (let c = 1; c < NIC_TABLE_ENTRIES; c++) m.deliver(open(0x6000 + c));
  m.deliver(open(0x7000));
  assert.deepEqual(
    m.transmitted().map((f) => [f.type, f.conn, f.off]),
    [[FrameType.FIN, 0x7000, 0]],
  );
  assert.equal(m.table.find((e) => e.conn === 0x7000), -1, "nothing recorded");
});

Deno.test("sockets: an OPEN on a port nobody listens on is refused with a FIN at offset 0", () => {
  const m = machine();
  m.sockets.listen(OWNER, PORT);
  m.deliver(open(0x7001, PORT + 1));
  assert.deepEqual(
    m.transmitted().map((f) => [f.type, f.conn, f.off]),
    [[FrameType.FIN, 0x7001, 0]],
  );
  assert.equal(m.table.find((e) => e.conn === 0x7001), -1, "nothing recorded");
});

Deno.test("sockets: RECV_MANY answers many connections in one reply, in order, each error its own", () => {
  const m = acceptedAll(0x5001, 0x5002, 0x5003);
  m.deliver(
    data(0x5001, 0, "GET a"),
    data(0x5003, 0, "GET c"),
    encodeFrame(FrameType.FIN, 0x5003, 5),
  );
  const got = m.sockets.recvMany(OWNER, [0x5001, 0x5002, 0x7777, 0x5003]);
  assert.deepEqual(
    got.map((g) => [g.conn, g.err, str(g.bytes), g.eof, g.more]),
    [
      [0x5001, Err.OK, "GET a", false, false],
      [0x5002, Err.E_WOULD_BLOCK, "", false, false],
      [0x7777, Err.E_NOT_FOUND, "", false, false],
      [0x5003, Err.OK, "GET c", true, false],
    ],
  );
  const i = m.table.find((e) => e.conn === 0x5001);
  assert.equal(m.table.get(i).consumed, 5, "RECV_MANY moves consumed as RECV does");
  const wire = encodeRecvManyReply(got);
  assert.deepEqual(decodeRecvManyReply(wire), got, "the reply decodes to what was sent");
});

Deno.test("sockets: RECV_MANY fills one payload and says MORE for what it left; the next call goes on", () => {
  const m = acceptedAll(0x5001, 0x5002);
  m.deliver(data(0x5001, 0, "a".repeat(700)), data(0x5002, 0, "b".repeat(700)));
  const first = m.sockets.recvMany(OWNER, [0x5001, 0x5002]);
  const wire = encodeRecvManyReply(first);
  assert.equal(wire.length, MESSAGE_PAYLOAD_BYTES_MAX, "the reply is one full payload");
  assert.deepEqual(first.map((g) => [g.conn, g.bytes.length, g.more]), [
    [0x5001, 700, false],
    [0x5002, MESSAGE_PAYLOAD_BYTES_MAX - 4 - 2 * 10 - 700, true],
  ]);
  const rest = m.sockets.recvMany(OWNER, [0x5002]);
  assert.equal(str(first[1].bytes) + str(rest[0].bytes), "b".repeat(700));
  assert.equal(rest[0].more, false);
});

Deno.test("sockets: SEND_MANY sends to many connections in one call; a closed one fails alone", () => {
  const m = acceptedAll(0x5001, 0x5002, 0x5003);
  m.sockets.close(OWNER, 0x5002);
  const before = m.transmitted().length;
  const sent = m.sockets.sendMany(OWNER, [
    { conn: 0x5001, bytes: text("+OK\r\n") },
    { conn: 0x5002, bytes: text("lost") },
    { conn: 0x5003, bytes: text(":1\r\n") },
  ]);
  assert.deepEqual(sent, [
    { err: Err.OK, taken: 5 },
    { err: Err.E_NOT_FOUND, taken: 0 },
    { err: Err.OK, taken: 4 },
  ]);
  assert.deepEqual(decodeSendManyReply(encodeSendManyReply(sent)), sent);
  const frames = m.transmitted().slice(before).filter((f) => f.type === FrameType.DATA);
  assert.deepEqual(frames.map((f) => [f.conn, f.off, str(f.data)]), [
    [0x5001, 0, "+OK\r\n"],
    [0x5003, 0, ":1\r\n"],
  ]);
});

Deno.test("sockets: SEND_MANY takes what the window allows and marks the socket to wake on WRITABLE", () => {
  const m = acceptedAll(0x5001);
  const big = new Uint8Array(TX_WINDOW_BYTES + 10);
  let taken = 0;
  for (let k = 0; k < 8 && taken < big.length; k++) {
    const [a] = m.sockets.sendMany(OWNER, [{ conn: 0x5001, bytes: big.subarray(taken) }]);
    if (a.err !== Err.OK) break;
    taken += a.taken;
    m.release();
  }
  assert.equal(taken, TX_WINDOW_BYTES, "no more than the window");
  assert.deepEqual(m.sockets.sendMany(OWNER, [{ conn: 0x5001, bytes: big }]), [
    { err: Err.E_WOULD_BLOCK, taken: 0 },
  ]);
  m.deliver(encodeFrame(FrameType.ACK, 0x5001, 100));
  assert.deepEqual(m.sockets.poll(OWNER), [
    { handle: 0x5001, kind: HandleKind.CONNECTION, events: SocketEvent.WRITABLE },
  ]);
});

Deno.test("sockets: a CLOSE that finds no ring room for its FIN wakes its owner on WRITABLE to close again", () => {
  // The break this catches: a closing owner waits for no other event, so without the wake its
  // connection (and its table entry) stayed open for good once the ring was full at its close.
  const m = acceptedAll(0x5001, 0x5002);
  const chunk = new Uint8Array(1000);
  // Fill the ring with 0x5002's bytes (the board sends nothing: no commit yet).
  for (;;) {
    try {
      m.sockets.send(OWNER, 0x5002, chunk);
    } catch (e) {
      assert.equal((e as TardigradeError).code, Err.E_WOULD_BLOCK);
      break;
    }
  }
  m.sockets.takeSignals();
  m.sockets.poll(OWNER);
  assert.equal(
    code(() => m.sockets.close(OWNER, 0x5001)),
    Err.E_WOULD_BLOCK,
    "no room for the FIN",
  );
  m.release();
  m.deliver(encodeFrame(FrameType.ACK, 0x5002, 1000)); // any frame in: the driver looks again
  assert.deepEqual(m.sockets.takeSignals(), [NOTIFICATION_SLOT]);
  const events = m.sockets.poll(OWNER);
  assert.ok(
    events.some((e) => e.handle === 0x5001 && (e.events & SocketEvent.WRITABLE) !== 0),
    `the closing connection is woken: ${JSON.stringify(events)}`,
  );
  const head = consoleHead(m.txBufs);
  m.sockets.close(OWNER, 0x5001);
  const after = new FrameReader().push(readConsole(m.txBufs, head, consoleHead(m.txBufs)));
  assert.deepEqual(after.map((f) => [f.type, f.conn]), [[FrameType.FIN, 0x5001]], "its FIN");
});
