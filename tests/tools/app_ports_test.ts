/**
 * `deno task boot --echo-port N` (tools/boot.ts): the echo app in `--apps`
 * becomes the program app with its port as an argument.
 */

import assert from "node:assert/strict";
import { withEchoPort } from "../../tools/boot.ts";

Deno.test("boot --echo-port: echo in --apps gets the port as its argument, other apps stay", () => {
  assert.equal(
    withEchoPort("counter,echo", "7100"),
    "counter,echo?port=7100",
  );
  assert.equal(withEchoPort("counter", "7100"), "counter");
});

Deno.test("boot --echo-port: a port outside 1…65535 is refused", () => {
  assert.throws(() => withEchoPort("echo", "0"), /1…65535/);
  assert.throws(() => withEchoPort("echo", "70000"), /1…65535/);
  assert.throws(() => withEchoPort("echo", "x"), /1…65535/);
});
