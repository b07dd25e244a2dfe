/**
 * Test program: calls in flight across a crash. Opens CONNECTIONS
 * connections, two to each service (memory, fs, net, by name), and
 * drives them from its timer with the raw rings of servers/runtime/ipc.ts,
 * so that what is in flight lives only in checkpointed memory (the rings and
 * its own PMO), never in a JavaScript heap that a crash loses:
 *
 * - on each tick, for each connection, it takes every reply waiting in the
 *   response ring (checking each is the echo of the next request it is owed,
 *   in order) and prints `ipcpending r C FROM TO` for the replies FROM..TO-1
 *   of connection C; a reply that is not the one owed prints
 *   `ipcpending MISMATCH ...` (a dropped or repeated message);
 * - once every request of a connection's burst is answered, it writes the
 *   next burst of BURST requests and rings the server's doorbell, and sends
 *   nothing more on that connection until the whole burst is answered (so a
 *   server that is never woken leaves it waiting for good);
 * - after CALLS replies on every connection it prints `ipcpending done`.
 *
 * Replies are taken only on ticks, so a checkpoint usually finds replies
 * waiting in response rings; a burst written to a server that is dormant
 * (after a resume, until its worker starts) waits in the request ring. On
 * resume `main` prints `ipcpending resume R P`: requests (R) and replies (P)
 * the restored rings hold. Started by tests/persistence/resume_ipc_test.ts.
 *
 * State PMO ("state"), u32 words: 0 = 1 once set up; per connection c at
 * word 4 + 4c: its connection slot, requests sent, replies consumed.
 *
 * @module
 */

import { Label } from "../../servers/protocol.ts";
import { connectionRings, type Ring } from "../../servers/runtime/ipc.ts";
import { ringDoorbell } from "../../kernel/abi/doorbell.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { CapName } from "../../servers/runtime/names.ts";
import { lastingPmo } from "../../servers/runtime/service.ts";
import type { ConnectionHandle } from "../../kernel/abi/protocol.ts";

/** Two connections to each of memory, fs and net. */
const SERVICES = ["memory", "memory", "fs", "fs", "net", "net"];
const CONNECTIONS = SERVICES.length;
/** Requests written at once on a connection (under the 64 slots of a ring). */
const BURST = 24;
/** Calls per connection before `done`. */
const CALLS = 24 * 120;
const WORD_SET_UP = 0;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One connection, driven through its rings; its counters live in the state PMO. */
interface Conn {
  index: number;
  requests: Ring;
  responses: Ring;
  peerDoorbell: Int32Array;
}

const word = (c: number, field: 0 | 1 | 2) => (4 + 4 * c + field) * 4;
const SLOT = 0, SENT = 1, CONSUMED = 2;

function open(index: number, handle: ConnectionHandle): Conn {
  const rings = connectionRings(new PersistentMemory(handle.ring));
  return { index, ...rings, peerDoorbell: new Int32Array(handle.peerDoorbell) };
}

/** Takes the waiting replies of `c`, checks each, prints what it took. */
function takeReplies(state: PersistentMemory, c: Conn, print: (s: string) => void): void {
  const from = state.getU32(word(c.index, CONSUMED));
  let consumed = from;
  for (let m = c.responses.peek(); m; m = c.responses.peek()) {
    const text = decoder.decode(m.payload);
    const owed = `${c.index}:${consumed}`;
    if (text !== owed || m.tag !== consumed + 1) {
      print(`ipcpending MISMATCH conn ${c.index}: got "${text}" tag ${m.tag}, owed "${owed}"`);
    }
    c.responses.advance();
    consumed++;
  }
  if (consumed === from) return;
  state.setU32(word(c.index, CONSUMED), consumed);
  print(`ipcpending r ${c.index} ${from} ${consumed}`);
}

/** Writes the next burst on `c` once the last one is answered. */
function sendBurst(state: PersistentMemory, c: Conn): void {
  let sent = state.getU32(word(c.index, SENT));
  if (sent !== state.getU32(word(c.index, CONSUMED)) || sent >= CALLS) return;
  const end = Math.min(CALLS, sent + BURST);
  for (; sent < end; sent++) {
    const ok = c.requests.tryWrite(Label.ECHO, sent + 1, 0, encoder.encode(`${c.index}:${sent}`));
    if (!ok) throw new Error(`ipcpending: request ring of connection ${c.index} is full`);
  }
  state.setU32(word(c.index, SENT), sent);
  ringDoorbell(c.peerDoorbell);
}

runProgram(async (ctx) => {
  const state = await lastingPmo(ctx, "state", 1);
  const conns: Conn[] = [];
  if (state.getU32(WORD_SET_UP) === 0) {
    for (const [i, service] of SERVICES.entries()) {
      const handle = await ctx.sys.connect(ctx.cap(service));
      state.setU32(word(i, SLOT), handle.slot);
      conns.push(open(i, handle));
    }
    state.setU32(WORD_SET_UP, 1);
    ctx.print("ipcpending start");
  } else {
    for (let i = 0; i < CONNECTIONS; i++) {
      conns.push(open(i, await ctx.sys.connAttach(state.getU32(word(i, SLOT)))));
    }
    const req = conns.reduce((n, c) => n + c.requests.pending(), 0);
    const resp = conns.reduce((n, c) => n + c.responses.pending(), 0);
    ctx.print(`ipcpending resume ${req} ${resp}`);
  }
  let done = conns.every((c) => state.getU32(word(c.index, CONSUMED)) >= CALLS);
  await ctx.onNotification(ctx.cap(CapName.TIMER), () => {
    for (const c of conns) {
      takeReplies(state, c, ctx.print);
      sendBurst(state, c);
    }
    if (!done && conns.every((c) => state.getU32(word(c.index, CONSUMED)) >= CALLS)) {
      done = true;
      ctx.print("ipcpending done");
    }
  });
});
