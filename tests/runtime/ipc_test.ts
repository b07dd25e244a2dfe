/**
 * Connection rings (servers/runtime/ipc.ts) in one thread: the ring
 * protocol, message validation, error replies, badges and the write
 * barrier on the connection buffer.
 *
 * Run: `deno test --allow-read tests/runtime/ipc_test.ts`.
 */

import assert from "node:assert/strict";
import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import {
  CONN_PAGES,
  CONN_REQ_RING_OFFSET,
  CONN_RESP_RING_OFFSET,
  ConnWord,
  DOORBELL_BYTES,
  DoorbellWord,
  PageState,
  type PmoBuffers,
  SlotField,
} from "../../kernel/abi/layout.ts";
import {
  MESSAGE_PAYLOAD_BYTES_MAX,
  PAGE_BYTES,
  RING_SLOT_BYTES,
  RING_SLOTS,
} from "../../kernel/abi/limits.ts";
import type { ConnectionHandle } from "../../kernel/abi/protocol.ts";
import {
  ClientConnection,
  connectionRings,
  type Reply,
  type Request,
  type RequestHandler,
  ServerConnection,
} from "../../servers/runtime/ipc.ts";
import { allocatePmoBuffers, PersistentMemory } from "../../kernel/abi/pmem.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** A client and a server on one fresh connection buffer; the server's handle carries `badge`. */
function connection(handler: RequestHandler, badge = 7) {
  const ring = allocatePmoBuffers(1, CONN_PAGES);
  const clientDoorbell = new SharedArrayBuffer(DOORBELL_BYTES);
  const serverDoorbell = new SharedArrayBuffer(DOORBELL_BYTES);
  const clientHandle: ConnectionHandle = {
    connId: 42,
    ring,
    peerDoorbell: serverDoorbell,
    badge: 0,
    slot: 3,
  };
  const serverHandle: ConnectionHandle = {
    connId: 42,
    ring,
    peerDoorbell: clientDoorbell,
    badge,
    slot: 5,
  };
  const client = new ClientConnection(clientHandle, {
    doorbell: new Int32Array(clientDoorbell),
    beginWait() {},
    endWait() {},
  });
  const server = new ServerConnection(serverHandle, handler);
  return {
    ring,
    client,
    server,
    clientDoorbell: new Int32Array(clientDoorbell),
    serverDoorbell: new Int32Array(serverDoorbell),
  };
}

/** Serves everything waiting, then lets the client take the replies. */
function pump(c: ReturnType<typeof connection>): number {
  const handled = c.server.serve(RING_SLOTS);
  c.client.poll();
  return handled;
}

function pageStates(buffers: PmoBuffers): Uint8Array {
  return new Uint8Array(buffers.pageState);
}

function pageOf(offset: number): number {
  return Math.floor(offset / PAGE_BYTES);
}

Deno.test("ring: tryWrite, peek and advance round-trip label, tag, status and payload", () => {
  const mem = new PersistentMemory(allocatePmoBuffers(1, CONN_PAGES));
  const { requests, responses } = connectionRings(mem);
  assert.equal(requests.peek(), null);
  assert.equal(requests.pending(), 0);

  assert.equal(requests.tryWrite(3, 11, 0, bytes(1, 2, 3)), true);
  assert.equal(requests.tryWrite(4, 12, Err.E_NOT_FOUND, new Uint8Array(0)), true);
  assert.equal(requests.pending(), 2);
  assert.equal(responses.pending(), 0, "the other direction is untouched");

  const first = requests.peek();
  assert.deepEqual(first, { label: 3, tag: 11, status: 0, payload: bytes(1, 2, 3) });
  assert.deepEqual(requests.peek(), first, "peek does not consume");
  requests.advance();
  const second = requests.peek();
  assert.deepEqual(second, {
    label: 4,
    tag: 12,
    status: Err.E_NOT_FOUND,
    payload: new Uint8Array(0),
  });
  requests.advance();
  assert.equal(requests.peek(), null);
  assert.equal(requests.pending(), 0);

  // A payload is a copy: reusing its slot leaves it as it was.
  const full = new Uint8Array(MESSAGE_PAYLOAD_BYTES_MAX).map((_, i) => i & 0xff);
  assert.equal(requests.tryWrite(9, 1, 0, full), true);
  const m = requests.peek()!;
  requests.advance();
  for (let i = 0; i < RING_SLOTS; i++) {
    assert.equal(requests.tryWrite(1, 1, 0, bytes(0xee, 0xee, 0xee)), true);
    requests.advance();
  }
  assert.deepEqual(m.payload, full);
});

Deno.test("ring: full after RING_SLOTS messages, usable again after advance, wraps around", () => {
  const mem = new PersistentMemory(allocatePmoBuffers(1, CONN_PAGES));
  const { requests } = connectionRings(mem);
  for (let i = 0; i < RING_SLOTS; i++) {
    assert.equal(requests.tryWrite(1, i, 0, bytes(i)), true, `message ${i}`);
  }
  assert.equal(requests.pending(), RING_SLOTS);
  assert.equal(requests.tryWrite(1, 999, 0, bytes(1)), false);
  assert.equal(requests.pending(), RING_SLOTS, "a refused write changes nothing");

  assert.equal(requests.peek()!.tag, 0);
  requests.advance();
  assert.equal(requests.tryWrite(1, RING_SLOTS, 0, bytes(RING_SLOTS)), true);
  assert.equal(requests.tryWrite(1, 1000, 0, bytes(1)), false);

  // Every message comes out once, in order, across the wrap of the slot index.
  for (let i = 1; i <= RING_SLOTS; i++) {
    const m = requests.peek()!;
    assert.equal(m.tag, i);
    assert.deepEqual(m.payload, bytes(i & 0xff));
    requests.advance();
  }
  assert.equal(requests.peek(), null);
});

Deno.test("ring: a payload over MESSAGE_PAYLOAD_BYTES_MAX throws E_MESSAGE_TOO_LARGE", () => {
  const mem = new PersistentMemory(allocatePmoBuffers(1, CONN_PAGES));
  const { requests } = connectionRings(mem);
  assert.throws(
    () => requests.tryWrite(1, 1, 0, new Uint8Array(MESSAGE_PAYLOAD_BYTES_MAX + 1)),
    (e: unknown) => e instanceof TardigradeError && e.code === Err.E_MESSAGE_TOO_LARGE,
  );
  assert.equal(requests.pending(), 0, "nothing was written");

  const c = connection(() => {});
  assert.throws(
    () => c.client.call(1, new Uint8Array(MESSAGE_PAYLOAD_BYTES_MAX + 1)),
    (e: unknown) => e instanceof TardigradeError && e.code === Err.E_MESSAGE_TOO_LARGE,
  );
  assert.throws(
    () => c.client.send(1, new Uint8Array(4096)),
    (e: unknown) => e instanceof TardigradeError && e.code === Err.E_MESSAGE_TOO_LARGE,
  );
});

Deno.test("server: a slot with a garbage length gets E_BAD_MESSAGE; the next one is served", async () => {
  const seen: number[] = [];
  const c = connection((req) => {
    seen.push(req.label);
    return req.payload;
  });
  const mem = new PersistentMemory(c.ring);
  const head = Atomics.load(mem.words, ConnWord.REQ_HEAD);
  const bad = c.client.call(1, bytes(1, 1));
  const good = c.client.call(2, bytes(2, 2));
  // A peer scribbles an impossible length into the first slot's header.
  const slot = CONN_REQ_RING_OFFSET + (head & (RING_SLOTS - 1)) * RING_SLOT_BYTES;
  mem.setU32(slot + SlotField.LENGTH, 0xfffffff0);

  assert.equal(pump(c), 2);
  const badReply: Reply = await bad;
  const goodReply: Reply = await good;
  assert.equal(badReply.status, Err.E_BAD_MESSAGE);
  assert.match(decoder.decode(badReply.payload), /E_BAD_MESSAGE/);
  assert.equal(goodReply.status, Err.OK);
  assert.deepEqual(goodReply.payload, bytes(2, 2));
  assert.deepEqual(seen, [2], "the handler never saw the bad message");

  // And the connection keeps working.
  const later = c.client.call(3, bytes(3));
  pump(c);
  assert.deepEqual(await later, { status: Err.OK, payload: bytes(3) });
  assert.equal(c.client.orphanReplies, 0);
});

Deno.test("server: handler errors become reply statuses", async () => {
  const c = connection((req) => {
    if (req.label === 1) throw new TardigradeError(Err.E_NOT_FOUND, "no such thing: frob");
    if (req.label === 2) throw new Error("handler bug");
    if (req.label === 3) throw "a string";
    return encoder.encode("fine");
  });
  const notFound = c.client.call(1);
  const internal = c.client.call(2);
  const thrownString = c.client.call(3);
  const fine = c.client.call(4);
  assert.equal(pump(c), 4);

  const r1 = await notFound;
  assert.equal(r1.status, Err.E_NOT_FOUND);
  assert.match(decoder.decode(r1.payload), /no such thing: frob/);
  const r2 = await internal;
  assert.equal(r2.status, Err.E_INTERNAL);
  assert.match(decoder.decode(r2.payload), /handler bug/);
  assert.equal((await thrownString).status, Err.E_INTERNAL);
  const r4 = await fine;
  assert.equal(r4.status, Err.OK);
  assert.equal(decoder.decode(r4.payload), "fine");
});

Deno.test("server: the handler gets the badge and connection id of the server's handle", async () => {
  const got: Array<Pick<Request, "badge" | "connId" | "label" | "tag">> = [];
  const c = connection((req) => {
    got.push({ badge: req.badge, connId: req.connId, label: req.label, tag: req.tag });
  }, 0xbad9e);
  const reply = c.client.call(5, bytes(9));
  assert.equal(c.client.send(6, bytes(8)), true);
  c.client.flush();
  pump(c);
  assert.deepEqual(await reply, { status: Err.OK, payload: new Uint8Array(0) });
  assert.equal(got.length, 2);
  for (const g of got) {
    assert.equal(g.badge, 0xbad9e);
    assert.equal(g.connId, 42);
  }
  assert.equal(got[0].label, 5);
  assert.notEqual(got[0].tag, 0, "a call carries a tag");
  assert.equal(got[1].label, 6);
  assert.equal(got[1].tag, 0, "a one-way send has tag 0");
});

Deno.test("server: one-way sends get no reply; calls wake the client's doorbell", () => {
  let count = 0;
  const c = connection(() => {
    count++;
  });
  for (let i = 0; i < 10; i++) assert.equal(c.client.send(1, bytes(i)), true);
  const before = Atomics.load(c.serverDoorbell, DoorbellWord.RING);
  c.client.flush();
  assert.equal(Atomics.load(c.serverDoorbell, DoorbellWord.RING), before + 1);
  assert.equal(c.server.serve(100), 10);
  assert.equal(count, 10);
  const { responses } = connectionRings(new PersistentMemory(c.ring));
  assert.equal(responses.pending(), 0, "no replies to one-way messages");
  assert.equal(Atomics.load(c.clientDoorbell, DoorbellWord.RING), 0, "and no wake-up");

  const reply = c.client.call(2);
  c.server.serve(1);
  assert.equal(responses.pending(), 1);
  assert.equal(Atomics.load(c.clientDoorbell, DoorbellWord.RING), 1);
  assert.equal(c.client.poll(), 1);
  return reply.then((r) => assert.equal(r.status, Err.OK));
});

Deno.test("barrier: ring writes mark the pages they touch DIRTY, and only those", async () => {
  const c = connection((req) => req.payload);
  const state = pageStates(c.ring);
  assert.equal(state.length, CONN_PAGES);
  assert.ok(state.every((s) => s === PageState.CLEAN), "a fresh buffer is clean");

  const reply = c.client.call(1, bytes(1, 2, 3));
  const reqSlot0 = pageOf(CONN_REQ_RING_OFFSET);
  const dirty = () => [...state.keys()].filter((p) => state[p] !== PageState.CLEAN);
  // The header page (head counter, next tag) and the page of request slot 0.
  assert.deepEqual(dirty(), [0, reqSlot0]);
  assert.equal(state[0], PageState.DIRTY);
  assert.equal(state[reqSlot0], PageState.DIRTY);

  pump(c);
  assert.equal((await reply).status, Err.OK);
  // The server's reply went into response slot 0.
  assert.deepEqual(dirty(), [0, reqSlot0, pageOf(CONN_RESP_RING_OFFSET)]);

  // Filling the request ring dirties every page of the request ring, none of the responses'.
  for (let i = 0; i < RING_SLOTS; i++) assert.equal(c.client.send(2, bytes(i)), true);
  const reqPages = new Set<number>();
  for (let i = 0; i < RING_SLOTS; i++) {
    reqPages.add(pageOf(CONN_REQ_RING_OFFSET + i * RING_SLOT_BYTES));
  }
  for (const p of reqPages) assert.equal(state[p], PageState.DIRTY, `request page ${p}`);
  const respFirst = pageOf(CONN_RESP_RING_OFFSET);
  for (let p = respFirst + 1; p < CONN_PAGES; p++) {
    assert.equal(state[p], PageState.CLEAN, `response page ${p}`);
  }
});

Deno.test("client: when its server dies, a reply already written answers its call, and a call still in the ring waits for the restart", async () => {
  const c = connection((req) => encoder.encode(`done ${req.label}`));
  const answered = c.client.call(1);
  const taken = c.client.call(2);
  const waiting = c.client.call(3);
  // The server answered call 1 and took call 2 (then died in its handler); call 3 is in the ring.
  assert.equal(c.server.serve(1), 1);
  connectionRings(new PersistentMemory(c.ring)).requests.advance();
  let waitingSettled = false;
  waiting.then(() => waitingSettled = true);
  c.client.failPending("peer thread 9 died", true);
  assert.equal(decoder.decode((await answered).payload), "done 1", "the written reply counts");
  assert.equal((await taken).status, Err.E_PEER_DIED, "a taken call may have run: E_PEER_DIED");
  await null;
  assert.equal(waitingSettled, false, "a call still in the ring is not failed");
  // The restarted server serves it: answered once, not sent again.
  assert.equal(pump(c), 1);
  assert.equal(decoder.decode((await waiting).payload), "done 3");
});

Deno.test("client: when its server dies for good, every call without a reply fails with E_PEER_DIED", async () => {
  const c = connection((req) => encoder.encode(`done ${req.label}`));
  const inRing = c.client.call(1);
  c.client.failPending("peer thread 9 died", false);
  assert.equal((await inRing).status, Err.E_PEER_DIED);
});
