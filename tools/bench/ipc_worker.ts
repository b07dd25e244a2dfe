/**
 * Worker for the IPC benchmark (tools/bench/ipc.ts): one file, two roles.
 *
 * - Server: serves the connection (`ServerConnection.serve`) in a
 *   synchronous loop while the control word {@link Ctl.MODE} says
 *   {@link Mode.RING}; when idle it spins on its doorbell, then sleeps in
 *   `Atomics.wait` for a millisecond at most. Label {@link Label.ECHO}
 *   replies with the request's payload; label {@link Label.COUNT} is
 *   one-way: it checks the sequence number in the payload and counts the
 *   message (published in {@link Ctl.CONSUMED}). Between ring phases it
 *   sits in its event loop and posts every Uint8Array that arrives on its
 *   MessagePort straight back (the postMessage baseline); a `{ t: "ring" }`
 *   message on the port puts it back into the ring loop. It leaves the ring
 *   loop for good on {@link Mode.STOP} and posts {@link ServerDone}.
 * - Client: measures (a) `callSync` round trips, (b) postMessage round
 *   trips to the same server worker, (c) one-way batched `send`/`flush`
 *   throughput, and posts {@link ClientResult}.
 *
 * Any wrong reply, lost message or exception fails the run loudly: the
 * client posts `error`, or the exception reaches the main thread's onerror.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { Err, errName } from "../../kernel/abi/errors.ts";
import { DoorbellWord } from "../../kernel/abi/layout.ts";
import { RING_SLOTS } from "../../kernel/abi/limits.ts";
import type { ConnectionHandle } from "../../kernel/abi/protocol.ts";
import { doorbellCount, ringDoorbell, spinDoorbell } from "../../kernel/abi/doorbell.ts";
import { PersistentMemory } from "../../kernel/abi/pmem.ts";
import {
  ClientConnection,
  connectionRings,
  type Request,
  type Ring,
  ServerConnection,
  type Waiter,
} from "../../servers/runtime/ipc.ts";

/** Word offsets (Int32) in the benchmark's control buffer. */
export enum Ctl {
  /** A {@link Mode}, written by the client (and by the main thread on failure). */
  MODE = 0,
  /** One-way messages the server has consumed so far (published after each `serve`). */
  CONSUMED = 1,
  /** Set to 1 by the server when a one-way message arrived out of sequence. */
  SEQ_ERROR = 2,
  /** The sequence number the server saw instead of the expected one. */
  SEQ_GOT = 3,
  /** The client's current {@link Phase}, for the main thread's hang report. */
  PHASE = 4,
  /** 1 while the server is in its ring loop, 0 in its event loop, 2 when it has stopped. */
  SERVER_LOOP = 5,
  /** Pings the server has posted back. */
  PINGS = 6,
  COUNT = 8,
}

/** What the client is measuring, published in {@link Ctl.PHASE}. */
export enum Phase {
  STARTING = 0,
  RTT = 1,
  POSTMESSAGE = 2,
  THROUGHPUT = 3,
  DONE = 4,
}

/** What the server does now. */
export enum Mode {
  /** Sit in the event loop: answer postMessage pings. */
  EVENT = 0,
  /** Serve the ring in a synchronous loop. */
  RING = 1,
  /** Leave the ring loop and finish. */
  STOP = 2,
}

/** Protocol labels of the benchmark connection. */
export enum Label {
  ECHO = 1,
  COUNT = 2,
}

/** Bytes of the control buffer. */
export const CTL_BYTES = Ctl.COUNT * 4;
/** The badge the server side's handle carries; the server checks every request has it. */
export const BENCH_BADGE = 7;
/** Payload bytes of every benchmark message. */
export const PAYLOAD_BYTES = 16;

/** Start message of the server role. */
export interface ServerStart {
  role: "server";
  handle: ConnectionHandle;
  /** The server's own doorbell (the client handle's peerDoorbell). */
  doorbell: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  port: MessagePort;
}

/** Start message of the client role. */
export interface ClientStart {
  role: "client";
  handle: ConnectionHandle;
  /** The client's own doorbell (the server handle's peerDoorbell). */
  doorbell: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  port: MessagePort;
  /** callSync samples after warm-up. */
  rttSamples: number;
  rttWarmup: number;
  /** postMessage samples after warm-up. */
  pmSamples: number;
  pmWarmup: number;
  /** Length of the throughput run. */
  throughputMs: number;
}

/** What the client measured. Sample arrays are in microseconds, unsorted. */
export interface ClientResult {
  t: "result";
  rtt: Float64Array;
  pm: Float64Array;
  sent: number;
  throughputMs: number;
}

/** The server's last word. */
export interface ServerDone {
  t: "stopped";
  consumed: number;
  served: number;
}

/** Posted when the server is in its event loop, ready for the client. */
export interface ServerReady {
  t: "ready";
}

/** Posted by either role when it fails. */
export interface WorkerFailure {
  t: "error";
  role: string;
  message: string;
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/** Spins on the doorbell before sleeping: about 0.1 to 0.5 ms, longer than most GC pauses. */
const SERVER_SPIN = 100_000;
/** What the one-way handler returns (shared: `serve` drops replies to one-way messages). */
const NO_REPLY = new Uint8Array(0);
/** Requests per `serve` call. */
const SERVE_BUDGET = 256;

function runServer(start: ServerStart): void {
  const ctl = new Int32Array(start.ctl);
  const door = new Int32Array(start.doorbell);
  let consumed = 0;
  let served = 0;
  const handler = (req: Request): Uint8Array | void => {
    if (req.badge !== BENCH_BADGE) throw new Error(`badge ${req.badge}, expected ${BENCH_BADGE}`);
    if (req.label === Label.ECHO) return req.payload;
    if (req.label === Label.COUNT) {
      const p = req.payload;
      const seq = (p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)) >>> 0;
      if (p.length !== PAYLOAD_BYTES || seq !== consumed) {
        if (Atomics.load(ctl, Ctl.SEQ_ERROR) === 0) {
          Atomics.store(ctl, Ctl.SEQ_GOT, seq);
          Atomics.store(ctl, Ctl.SEQ_ERROR, 1);
        }
      }
      consumed++;
      // One-way: the reply is dropped, but returning nothing makes serve allocate an empty one.
      return NO_REPLY;
    }
    throw new Error(`unknown label ${req.label}`);
  };
  const conn = new ServerConnection(start.handle, handler);

  /** Serves until the mode leaves RING; returns false on STOP. */
  const ringLoop = (): boolean => {
    Atomics.store(ctl, Ctl.SERVER_LOOP, 1);
    for (;;) {
      const seen = doorbellCount(door);
      const n = conn.serve(SERVE_BUDGET);
      if (n > 0) {
        served += n;
        Atomics.store(ctl, Ctl.CONSUMED, consumed);
        continue;
      }
      const mode = Atomics.load(ctl, Ctl.MODE);
      if (mode !== Mode.RING) {
        Atomics.store(ctl, Ctl.SERVER_LOOP, mode === Mode.STOP ? 2 : 0);
        return mode !== Mode.STOP;
      }
      if (spinDoorbell(door, seen, SERVER_SPIN)) continue;
      Atomics.store(door, DoorbellWord.SLEEPING, 1);
      Atomics.wait(door, DoorbellWord.RING, seen, 1);
      Atomics.store(door, DoorbellWord.SLEEPING, 0);
    }
  };

  const port = start.port;
  port.onmessage = (ev: MessageEvent) => {
    const data = ev.data;
    if (data instanceof Uint8Array) {
      port.postMessage(data);
      Atomics.add(ctl, Ctl.PINGS, 1);
      return;
    }
    if (data?.t === "ring") {
      if (!ringLoop()) {
        Atomics.store(ctl, Ctl.CONSUMED, consumed);
        const done: ServerDone = { t: "stopped", consumed, served };
        self.postMessage(done);
        port.close();
      }
    }
  };
  const ready: ServerReady = { t: "ready" };
  self.postMessage(ready);
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

function fail(message: string): never {
  throw new Error(`ipc bench client: ${message}`);
}

function setMode(ctl: Int32Array, serverDoor: Int32Array, mode: Mode): void {
  Atomics.store(ctl, Ctl.MODE, mode);
  ringDoorbell(serverDoor);
}

/** (a) callSync round trips; every reply must echo its request. */
function measureRtt(conn: ClientConnection, warmup: number, samples: number): Float64Array {
  const out = new Float64Array(samples);
  const payload = new Uint8Array(PAYLOAD_BYTES);
  const view = new DataView(payload.buffer);
  for (let i = -warmup; i < samples; i++) {
    view.setUint32(0, i >>> 0, true);
    view.setUint32(8, (i * 2654435761) >>> 0, true);
    const t0 = performance.now();
    const reply = conn.callSync(Label.ECHO, payload);
    const t1 = performance.now();
    if (reply.status !== Err.OK) {
      fail(
        `call ${i}: status ${errName(reply.status)}: ${new TextDecoder().decode(reply.payload)}`,
      );
    }
    const got = reply.payload;
    if (got.length !== PAYLOAD_BYTES) fail(`call ${i}: reply of ${got.length} bytes`);
    for (let k = 0; k < PAYLOAD_BYTES; k++) {
      if (got[k] !== payload[k]) fail(`call ${i}: reply payload differs at byte ${k}`);
    }
    if (i >= 0) out[i] = (t1 - t0) * 1000;
  }
  if (conn.orphanReplies !== 0) fail(`${conn.orphanReplies} replies for no call`);
  return out;
}

/** (b) postMessage round trips over the port to the server worker. */
async function measurePostMessage(
  port: MessagePort,
  warmup: number,
  samples: number,
): Promise<Float64Array> {
  const out = new Float64Array(samples);
  let resolve: (v: Uint8Array) => void = () => {};
  port.onmessage = (ev: MessageEvent) => resolve(ev.data as Uint8Array);
  for (let i = -warmup; i < samples; i++) {
    const payload = new Uint8Array(PAYLOAD_BYTES);
    const view = new DataView(payload.buffer);
    view.setUint32(0, i >>> 0, true);
    view.setUint32(8, (i * 2654435761) >>> 0, true);
    const back = new Promise<Uint8Array>((r) => (resolve = r));
    const t0 = performance.now();
    port.postMessage(payload);
    const got = await back;
    const t1 = performance.now();
    if (!(got instanceof Uint8Array) || got.length !== PAYLOAD_BYTES) {
      fail(`ping ${i}: bad reply`);
    }
    for (let k = 0; k < PAYLOAD_BYTES; k++) {
      if (got[k] !== payload[k]) fail(`ping ${i}: reply payload differs at byte ${k}`);
    }
    if (i >= 0) out[i] = (t1 - t0) * 1000;
  }
  return out;
}

/** Waits (spinning, with a deadline) until the server has consumed `sent` one-way messages. */
function awaitConsumed(ctl: Int32Array, sent: number, what: string): void {
  const deadline = performance.now() + 5000;
  while (Atomics.load(ctl, Ctl.CONSUMED) !== sent) {
    if (performance.now() > deadline) {
      fail(`${what}: server consumed ${Atomics.load(ctl, Ctl.CONSUMED)} of ${sent} messages`);
    }
  }
  if (Atomics.load(ctl, Ctl.SEQ_ERROR) !== 0) {
    fail(`${what}: server saw sequence ${Atomics.load(ctl, Ctl.SEQ_GOT)} out of order`);
  }
}

/** Local busy work between two looks at shared memory; returns a value so it is not elided. */
function pause(iterations: number): number {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x * 31 + i) | 0;
  return x;
}

/** Busy-work iterations between two looks at a full ring (well under a microsecond). */
const BACKOFF_ITERATIONS = 200;
/**
 * How long the client spins on a full ring before it starts sleeping in 50 µs naps: longer
 * than a GC pause of the server, so naps happen only when the server has lost its core.
 */
const YIELD_AFTER_MS = 2;

/**
 * (c) One-way throughput: fill the request ring with `send`, `flush`; when
 * the ring is full, wait for the server to drain half of it (looking at the
 * ring's tail only now and then, so the server owns the cache lines it
 * works on), refill, and so on for `ms`. The clock stops when the server has
 * consumed the last message. Returns [messages, elapsed ms].
 */
function measureThroughput(
  conn: ClientConnection,
  requests: Ring,
  ownDoor: Int32Array,
  ctl: Int32Array,
  firstSeq: number,
  ms: number,
): [number, number] {
  const payload = new Uint8Array(PAYLOAD_BYTES);
  let seq = firstSeq;
  let sink = 0;
  const t0 = performance.now();
  const until = t0 + ms;
  let batches = 0;
  do {
    // One batch: fill the ring, then wake the server.
    const before = seq;
    let full = false;
    for (let k = 0; k < RING_SLOTS; k++) {
      payload[0] = seq;
      payload[1] = seq >>> 8;
      payload[2] = seq >>> 16;
      payload[3] = seq >>> 24;
      if (!conn.send(Label.COUNT, payload)) {
        full = true;
        break;
      }
      seq++;
    }
    if (seq !== before) conn.flush();
    if (full) {
      // Wait for the server to drain half the ring. Spin first; if that takes long, the
      // server has no core of its own (another process runs): sleep a little to give it ours.
      let rounds = 0;
      let since = 0;
      while (requests.pending() > RING_SLOTS / 2) {
        sink += pause(BACKOFF_ITERATIONS);
        if ((++rounds & 63) !== 0) continue;
        const now = performance.now();
        if (since === 0) since = now;
        else if (now - since > YIELD_AFTER_MS) {
          Atomics.wait(ownDoor, DoorbellWord.RING, Atomics.load(ownDoor, DoorbellWord.RING), 0.05);
        }
      }
    }
    batches++;
  } while ((batches & 15) !== 0 || performance.now() < until);
  awaitConsumed(ctl, seq, "throughput");
  const t1 = performance.now();
  if (sink === 0.5) fail("unreachable");
  return [seq - firstSeq, t1 - t0];
}

async function runClient(start: ClientStart): Promise<ClientResult> {
  const ctl = new Int32Array(start.ctl);
  const serverDoor = new Int32Array(start.handle.peerDoorbell);
  const waiter: Waiter = {
    doorbell: new Int32Array(start.doorbell),
    beginWait() {},
    endWait() {},
  };
  const conn = new ClientConnection(start.handle, waiter);
  const port = start.port;
  port.start();

  // (a) ring round trips.
  Atomics.store(ctl, Ctl.PHASE, Phase.RTT);
  setMode(ctl, serverDoor, Mode.RING);
  port.postMessage({ t: "ring" });
  const rtt = measureRtt(conn, start.rttWarmup, start.rttSamples);

  // (b) postMessage round trips: the server goes back to its event loop.
  Atomics.store(ctl, Ctl.PHASE, Phase.POSTMESSAGE);
  setMode(ctl, serverDoor, Mode.EVENT);
  const pm = await measurePostMessage(port, start.pmWarmup, start.pmSamples);

  // (c) batched one-way throughput, after a short warm-up run.
  Atomics.store(ctl, Ctl.PHASE, Phase.THROUGHPUT);
  setMode(ctl, serverDoor, Mode.RING);
  port.postMessage({ t: "ring" });
  // The client's own view of the request ring, only to see how full it is.
  const { requests } = connectionRings(new PersistentMemory(start.handle.ring, false));
  const [warm] = measureThroughput(
    conn,
    requests,
    waiter.doorbell,
    ctl,
    0,
    Math.min(100, start.throughputMs),
  );
  const [sent, ms] = measureThroughput(
    conn,
    requests,
    waiter.doorbell,
    ctl,
    warm,
    start.throughputMs,
  );
  if (Atomics.load(ctl, Ctl.CONSUMED) !== warm + sent) fail("consumed count drifted");

  Atomics.store(ctl, Ctl.PHASE, Phase.DONE);
  setMode(ctl, serverDoor, Mode.STOP);
  return { t: "result", rtt, pm, sent, throughputMs: ms };
}

self.onmessage = (ev: MessageEvent<ServerStart | ClientStart>) => {
  const start = ev.data;
  if (start.role === "server") {
    runServer(start);
    return;
  }
  runClient(start).then(
    (result) =>
      self.postMessage(result, [result.rtt.buffer as ArrayBuffer, result.pm.buffer as ArrayBuffer]),
    (e) => {
      const failure: WorkerFailure = {
        t: "error",
        role: "client",
        message: e instanceof Error ? e.stack ?? e.message : String(e),
      };
      self.postMessage(failure);
    },
  );
};
