/** The watchdog's clock arithmetic. */

import assert from "node:assert/strict";
import { watchdogElapsed } from "../../kernel/abi/watchdog.ts";

Deno.test("watchdogElapsed: plain, wrapped, and a stamp taken just after the clock was read", () => {
  assert.equal(watchdogElapsed(5000, 2000), 3000);
  assert.equal(watchdogElapsed(100, 0x7fffffff - 99), 200, "across the 31-bit wrap");
  assert.equal(
    watchdogElapsed(1000, 1001),
    0,
    "a worker that stamped after the watchdog read the clock",
  );
});
