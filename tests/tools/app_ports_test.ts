/**
 * `deno task boot --echo-port N --kv-port M` (tools/boot.ts): each app in
 * `--apps` that has a port flag gets its port as an argument.
 */

import assert from "node:assert/strict";
import { withAppPorts } from "../../tools/boot.ts";

Deno.test("boot --echo-port/--kv-port: the named apps in --apps get their ports as arguments, other apps stay", () => {
  assert.equal(withAppPorts("counter,echo", { echo: "7100" }), "counter,echo?port=7100");
  assert.equal(
    withAppPorts("echo,kv,counter", { echo: "7100", kv: "6400" }),
    "echo?port=7100,kv?port=6400,counter",
  );
  assert.equal(withAppPorts("counter,kv", { echo: "7100" }), "counter,kv");
});

Deno.test("boot --echo-port/--kv-port: a port outside 1…65535 is refused, naming its flag", () => {
  assert.throws(() => withAppPorts("echo", { echo: "0" }), /--echo-port .*1…65535/);
  assert.throws(() => withAppPorts("kv", { kv: "70000" }), /--kv-port .*1…65535/);
  assert.throws(() => withAppPorts("echo", { echo: "x" }), /1…65535/);
});
