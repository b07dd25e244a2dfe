/**
 * The timer chip: a worker that raises the timer IRQ every millisecond.
 *
 * Deno's `setInterval(fn, 1)` fires about every 2.1 ms on these machines,
 * so a period of "1 ms" driven by it was really 2 ms. This worker sleeps in
 * `Atomics.wait` until the next deadline instead (about 1.0 ms apart, p99
 * 1.2 ms) and posts an empty tick to the kernel's timer port. Deadlines are
 * kept on a fixed grid, so late wake-ups do not add up; after a long stall
 * (the host descheduled the machine) the grid restarts from now rather
 * than firing a burst of ticks.
 *
 * The board starts it with `{ port }`, a MessagePort whose other end the
 * kernel listens on.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { TIMER_TICK_MS } from "../kernel/abi/limits.ts";

self.onmessage = (e: MessageEvent<{ port: MessagePort }>) => {
  self.onmessage = null;
  const port = e.data.port;
  const sleepWord = new Int32Array(new SharedArrayBuffer(4));
  let due = performance.now() + TIMER_TICK_MS;
  for (;;) {
    const wait = due - performance.now();
    if (wait > 0) Atomics.wait(sleepWord, 0, 0, wait);
    port.postMessage(null);
    due += TIMER_TICK_MS;
    const now = performance.now();
    if (due < now) due = now + TIMER_TICK_MS;
  }
};
