/**
 * Threads at run time: one Deno Worker per thread object.
 *
 * Map of this file:
 * - {@link LiveThread}: the volatile side of a thread (its Worker, control
 *   block, doorbell).
 * - {@link startWorker}: asks the board to spawn the worker (with no Deno
 *   permissions at all) and hands it its StartMessage and kernel channel.
 * - {@link sendToWorker}: the one way the kernel posts to a worker.
 *
 * @module
 */

import { CONTROL_BLOCK_BYTES, ControlWord, DOORBELL_BYTES, type PmoBuffers } from "./abi/layout.ts";
import { ringDoorbell } from "./abi/doorbell.ts";
import type { KernelToBoard, StartMessage } from "./abi/protocol.ts";
import type { ThreadRecord } from "./objects/records.ts";

/** The volatile side of a thread object. */
export interface LiveThread {
  rec: ThreadRecord;
  /** The kernel's end of the thread's channel: system calls in, replies and events out. */
  port: MessagePort;
  control: Int32Array;
  doorbell: SharedArrayBuffer;
  /** Int32 view of the doorbell. */
  doorbellWords: Int32Array;
  /** True once the program called `ready` (reached its first safe point). */
  ready: boolean;
  /** performance.now() when it became ready (0 before). */
  readyAt: number;
  /** The last ControlWord.HEARTBEAT the watchdog saw, and when it changed. */
  beat: { value: number; at: number };
  /** True once the worker failed or was terminated. */
  dead: boolean;
  /** performance.now() when the worker was spawned. */
  spawnedAt: number;
}

/** Programs must live under servers/ or tests/programs/, with no "..". */
export const PROGRAM_PATTERN = /^(servers|tests\/programs)\/[a-z0-9_\/-]+\.ts$/;

/**
 * Starts the worker of `rec`. The board creates the Worker (Deno starts a
 * worker nested in another worker about a second slower), with no Deno
 * permissions at all; the kernel talks to it over a MessageChannel whose
 * other end only that worker holds.
 */
export function startWorker(
  rec: ThreadRecord,
  capGroupName: string,
  consoleRing: PmoBuffers,
  consoleRegister: SharedArrayBuffer,
  resumed: boolean,
  faultInjection: boolean,
  toBoard: (msg: KernelToBoard, transfer: Transferable[]) => void,
  doorbell = new SharedArrayBuffer(DOORBELL_BYTES),
): LiveThread {
  const channel = new MessageChannel();
  const controlSab = new SharedArrayBuffer(CONTROL_BLOCK_BYTES);
  const start: StartMessage = {
    t: "start",
    threadId: rec.id,
    capGroupId: rec.group,
    name: capGroupName,
    program: rec.program,
    args: rec.args,
    resumed,
    control: controlSab,
    doorbell,
    console: consoleRing,
    consoleRegister,
    port: channel.port2,
    faultInjection,
  };
  toBoard({
    t: "spawn",
    threadId: rec.id,
    program: rec.program,
    name: `${capGroupName}#${rec.id}`,
    start,
  }, [
    channel.port2,
  ]);
  return {
    rec,
    port: channel.port1,
    control: new Int32Array(controlSab),
    doorbell,
    doorbellWords: new Int32Array(doorbell),
    ready: false,
    readyAt: 0,
    beat: { value: 0, at: performance.now() },
    dead: false,
    spawnedAt: performance.now(),
  };
}

/** Posts a message to a worker, counts it in POSTED, and rings its doorbell. */
export function sendToWorker(live: LiveThread, msg: unknown): void {
  live.port.postMessage(msg);
  Atomics.add(live.control, ControlWord.POSTED, 1);
  ringDoorbell(live.doorbellWords);
}
