/**
 * The supervisor's rendering of the monitor's machine lines (tools/boot.ts):
 * an event readably on one line, a report as a one-line summary.
 *
 * @module
 */

import * as assert from "node:assert/strict";
import type { SystemReport } from "../../kernel/abi/report.ts";
import { eventText, reportText } from "../../tools/boot.ts";

Deno.test("boot renders an event as one readable line: kind, component#thread, text, epoch", () => {
  const text = eventText({
    t: "event",
    kind: "restart",
    component: "fs",
    thread: 52,
    text: "restarting thread 52 (policy fresh, failure 1 in a row)",
    epoch: 12,
  });
  assert.equal(
    text,
    "[event] restart        fs#52: restarting thread 52 (policy fresh, failure 1 in a row) (epoch 12)",
  );
  assert.match(
    eventText({ t: "event", kind: "power-cut", component: "shell", text: "cut", epoch: 3 }),
    /^\[event\] power-cut\s+shell: cut \(epoch 3\)$/,
  );
});

Deno.test("boot renders a report as a summary naming the threads that are not running", () => {
  const thread = (id: number, name: string, state: "running" | "restarting") => ({
    id,
    name,
    program: "p.ts",
    state,
    policy: "fresh" as const,
    restarts: 0,
    failuresInARow: 0,
  });
  const group = (name: string, t: ReturnType<typeof thread>) => ({
    id: t.id - 1,
    name,
    policy: "fresh" as const,
    restarts: 0,
    failures: 0,
    quotaPages: 1,
    usedPages: 1,
    quotaObjects: 1,
    usedObjects: 1,
    threads: [t],
    caps: [],
    capsOmitted: 0,
  });
  const report: SystemReport = {
    uptimeMs: 2500,
    atUnixMs: 0,
    epoch: 9,
    resumed: false,
    faultInjection: false,
    groups: [
      group("init", thread(2, "init", "running")),
      group("fs", thread(5, "fs", "restarting")),
    ],
    ipc: { endpoints: [], connections: [], connectionsOmitted: 0 },
    memory: {
      nvmPages: 100,
      nvmFreePages: 60,
      objects: 1,
      objectsMax: 2,
      pmos: [],
      pmosOmitted: 0,
    },
    checkpoints: { periodMs: 1, counters: {}, recent: [] },
  };
  assert.equal(
    reportText({ t: "report", report }),
    "[report] up 2.5 s, epoch 9, 2 cap groups, 2 threads (fs#5 restarting), NVM 40 of 100 pages used",
  );
});
