/**
 * Test program: the system monitor's calls from a program that holds no
 * monitor capability (a program app gets CALL capabilities to the services,
 * never the monitor). Started by tests/kernel/monitor_test.ts with `--apps
 * tests/programs/monitor_probe.ts`; prints one line `monitorprobe {json}`
 * with what each call returned over each of its own slots and an empty one.
 *
 * @module
 */

import { INIT_MONITOR_SLOT } from "../../kernel/abi/slots.ts";
import { runProgram } from "../../servers/runtime/program.ts";
import { attempt, type Outcome } from "./_outcome.ts";

/** A slot no program fills. */
const EMPTY_SLOT = 900;

runProgram(async (ctx) => {
  if (ctx.resumed) return;
  const sys = ctx.sys;
  const r: Record<string, Outcome> = {};
  for (const cap of await sys.capList()) {
    r[`report@${cap.slot}:${cap.kind}`] = await attempt(() => sys.systemReport(cap.slot));
  }
  // Init's slot of the monitor, in this group: whatever is there (or nothing) is not init's.
  r.initsSlot = await attempt(() => sys.systemReport(INIT_MONITOR_SLOT));
  r.report = await attempt(() => sys.systemReport(EMPTY_SLOT));
  r.checkpointNow = await attempt(() => sys.raw("checkpoint_now", EMPTY_SLOT));
  r.inject = await attempt(() => sys.faultInject(EMPTY_SLOT, "fs", "throw"));
  r.powerCut = await attempt(() => sys.powerCut(EMPTY_SLOT));
  r.injectOverGroup = await attempt(() => sys.faultInject(0, "fs", "throw"));
  ctx.print(`monitorprobe ${JSON.stringify(r)}`);
});
