/**
 * The dashboard's server (tools/dashboard/server.ts) without a machine:
 * the page and the JSON state are served, the event stream sends the state
 * and its updates, and each action is refused with 403 naming its flag
 * unless it was allowed, then does what it is given.
 */

import assert from "node:assert/strict";
import {
  ACTION_FLAGS,
  type DashboardActions,
  DashboardHub,
  serveDashboard,
} from "../../../tools/dashboard/server.ts";
import { initialState } from "../../../tools/dashboard/state.ts";

const NONE = { checkpoint: false, inject: false, powerCut: false };

async function withServer(
  actions: DashboardActions,
  fn: (base: string, hub: DashboardHub) => Promise<void>,
): Promise<void> {
  const hub = new DashboardHub(initialState(NONE));
  const server = await serveDashboard({ port: 0, hub, actions });
  try {
    await fn(`http://127.0.0.1:${server.port}`, hub);
  } finally {
    hub.close();
    await server.shutdown();
  }
}

async function post(url: string, body?: unknown) {
  const res = await fetch(url, { method: "POST", body: JSON.stringify(body ?? {}) });
  return {
    status: res.status,
    body: await res.json() as { ok: boolean; code?: string; text: string },
  };
}

Deno.test("server: serves the page and the state as JSON", async () => {
  await withServer({}, async (base) => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<title>Tardigrade dashboard<\/title>/);
    assert.match(html, /new EventSource\("\/events"\)/);
    assert.doesNotMatch(
      html,
      /<script src=|<link [^>]*href="http/,
      "nothing fetched from elsewhere",
    );
    const state = await (await fetch(`${base}/state.json`)).json();
    assert.equal(state.machine.phase, "starting");
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).text, /the routes are/);
  });
});

Deno.test("server: every action is refused with 403 naming the flag that allows it", async () => {
  await withServer({}, async (base) => {
    const cases = [
      ["/checkpoint", ACTION_FLAGS.checkpoint],
      ["/inject", ACTION_FLAGS.inject],
      ["/powerfail", ACTION_FLAGS.powerCut],
    ] as const;
    for (const [path, flag] of cases) {
      const r = await post(`${base}${path}`, { target: "fs", fault: "throw" });
      assert.equal(r.status, 403, path);
      assert.equal(r.body.code, "E_DENIED");
      assert.ok(r.body.text.includes(flag), `${path}: ${r.body.text} names ${flag}`);
    }
  });
});

Deno.test("server: allowed actions run; a bad inject is 400; a failing one is 409", async () => {
  const done: string[] = [];
  const actions: DashboardActions = {
    checkpoint: () => Promise.resolve("asked"),
    inject: (target, fault) => {
      done.push(`${target} ${fault}`);
      return Promise.resolve("injected");
    },
    powerCut: () => Promise.reject(new Error("the machine is down")),
  };
  await withServer(actions, async (base) => {
    assert.deepEqual(await post(`${base}/checkpoint`), {
      status: 200,
      body: { ok: true, text: "asked" },
    });
    assert.equal((await post(`${base}/inject`, { target: "fs", fault: "loop" })).status, 200);
    assert.deepEqual(done, ["fs loop"]);
    const bad = await post(`${base}/inject`, { target: "fs", fault: "melt" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.text, /one of throw/);
    const down = await post(`${base}/powerfail`);
    assert.equal(down.status, 409);
    assert.match(down.body.text, /machine is down/);
  });
});

Deno.test("server: /events sends the state, then each new version", async () => {
  await withServer({}, async (base, hub) => {
    // A bound, not a timing: a stream that stops sending fails the test instead of hanging it.
    const res = await fetch(`${base}/events`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const states: { version: number; machine: { pid: number | null } }[] = [];
    let buffered = "";
    const next = async () => {
      while (!buffered.includes("\n\n")) buffered += (await reader.read()).value ?? "";
      const at = buffered.indexOf("\n\n");
      const event = buffered.slice(0, at);
      buffered = buffered.slice(at + 2);
      assert.match(event, /^data: /);
      states.push(JSON.parse(event.slice("data: ".length)));
    };
    await next();
    assert.equal(states[0].version, 0);
    hub.feed({ atMs: 1, supervisor: { t: "machine-started", pid: 42 } });
    await next();
    assert.equal(states[1].version, 1);
    assert.equal(states[1].machine.pid, 42);
    await reader.cancel();
  });
});
