/**
 * The board's workers: the CPUs of this model. Every program (the kernel,
 * each thread, the timer chip) runs in a Worker with no Deno permissions at
 * all; the board does all I/O.
 *
 * - {@link programWorker}: one worker for a program path.
 * - {@link ThreadWorkers}: the threads' workers by thread id, init's worker
 *   started early (with the kernel's, so both load their modules at once)
 *   and handed over at init's spawn, and the timer chip.
 *
 * @module
 */

import { INIT_PROGRAM, type KernelToBoard } from "../kernel/abi/protocol.ts";

/**
 * A worker running `program` (a path from the repository root) with no Deno
 * permissions at all: the kernel touches nothing outside its memory, and a
 * component reaches the world only through the kernel. The board does all I/O.
 */
export function programWorker(program: string, name: string): Worker {
  return new Worker(new URL(`../${program}`, import.meta.url), {
    type: "module",
    name,
    deno: { permissions: "none" },
  } as WorkerOptions);
}

/** The workers of the threads the kernel spawned, init's early worker, and the timer chip. */
export class ThreadWorkers {
  readonly #threads = new Map<number, Worker>();
  /** init's worker, started with the kernel's and handed over at init's spawn. */
  #earlyInit: Worker | undefined;
  /** The timer chip of the running kernel. */
  #timerChip: Worker | undefined;

  /** Starts init's worker now (replacing an earlier one), for init's spawn to take. */
  startEarlyInit(): void {
    this.#earlyInit?.terminate();
    this.#earlyInit = programWorker(INIT_PROGRAM, "init");
  }

  /** Starts the timer chip (replacing an earlier one), which ticks the kernel through `port`. */
  startTimer(port: MessagePort): void {
    this.#timerChip?.terminate();
    this.#timerChip = programWorker("hw/timer.ts", "timer");
    this.#timerChip.postMessage({ port }, [port]);
  }

  /**
   * Starts a thread's worker for the kernel (init's early worker if it is
   * init) and sends it its start message; `onFailed` hears an uncaught
   * error in it.
   */
  spawn(
    msg: Extract<KernelToBoard, { t: "spawn" }>,
    onFailed: (threadId: number, message: string) => void,
  ): void {
    const early = msg.program === INIT_PROGRAM ? this.#earlyInit : undefined;
    this.#earlyInit = undefined;
    const worker = early ?? programWorker(msg.program, msg.name);
    worker.onerror = (e) => {
      e.preventDefault();
      onFailed(msg.threadId, e.message);
    };
    worker.postMessage(msg.start, [msg.start.port]);
    this.#threads.set(msg.threadId, worker);
  }

  /** Stops the worker of thread `threadId`, if it runs. */
  terminate(threadId: number): void {
    this.#threads.get(threadId)?.terminate();
    this.#threads.delete(threadId);
  }

  /** Stops the timer chip. */
  stopTimer(): void {
    this.#timerChip?.terminate();
  }

  /** Stops every thread's worker (not init's early one: the next boot replaces it). */
  stopThreads(): void {
    for (const w of this.#threads.values()) w.terminate();
    this.#threads.clear();
  }

  /** Stops every thread's worker and init's early one. */
  stopAll(): void {
    this.stopThreads();
    this.#earlyInit?.terminate();
  }
}
