/**
 * The watchdog's clock: a worker stamps its control block's
 * HANDLER_STARTED_MS when a run of handlers begins (0 when idle or blocked);
 * the kernel stops a worker whose stamp is older than the handler budget
 * (HANDLER_BUDGET_MS unless the machine's --handler-budget-ms says).
 *
 * @module
 */

/** Milliseconds in 31 bits, never 0 (0 means "no handler running"). */
export function watchdogStamp(): number {
  return (Date.now() & 0x7fffffff) || 1;
}

/**
 * Milliseconds from `stamp` to `now`, across the 31-bit wrap. A stamp taken
 * just after `now` was read (a worker racing the watchdog) counts as 0, not
 * as a wrap of almost 25 days.
 */
export function watchdogElapsed(now: number, stamp: number): number {
  const d = now - stamp;
  if (d >= 0) return d;
  return d < -0x40000000 ? d + 0x80000000 : 0;
}
