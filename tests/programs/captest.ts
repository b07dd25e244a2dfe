/**
 * Test program: capabilities, rights, revoke, badges and bad input, driven
 * from inside a running machine through real system calls. Started by
 * tests/kernel/kernel_test.ts with `--apps tests/programs/captest.ts`; prints
 * one line `captest {json}` with what each call returned, which the test
 * checks. It finds its capabilities by name ("memory": a CALL capability).
 *
 * @module
 */

import { TardigradeError } from "../../kernel/abi/errors.ts";
import { Right, RIGHTS_ALL } from "../../kernel/abi/rights.ts";
import { Label, type ServerStatus } from "../../servers/protocol.ts";
import { parseJson, unwrap } from "../../servers/runtime/ipc.ts";
import { runProgram } from "../../servers/runtime/program.ts";

/** The outcome of one call: its value, or the name of its error code. */
type Outcome = { ok: unknown } | { err: string };

async function attempt(f: () => Promise<unknown> | unknown): Promise<Outcome> {
  try {
    return { ok: await f() };
  } catch (e) {
    if (e instanceof TardigradeError) return { err: e.codeName };
    return { err: e instanceof Error ? `${e.name}` : `untyped: ${String(e)}` };
  }
}

runProgram(async (ctx) => {
  if (ctx.resumed) return;
  const sys = ctx.sys;
  const r: Record<string, Outcome> = {};
  const memorySlot = ctx.cap("memory");
  r.memoryCap = await attempt(() => sys.capInfo(memorySlot));
  r.badSlotNegative = await attempt(() => sys.capInfo(-1));
  r.badSlotHuge = await attempt(() => sys.capInfo(100_000));
  r.badSlotFraction = await attempt(() => sys.capInfo(1.5));
  r.badSlotString = await attempt(() => sys.raw("cap_info", "3"));
  r.emptySlot = await attempt(() => sys.capInfo(900));
  r.wrongKind = await attempt(() => sys.pmoMap(memorySlot));
  r.serveWithoutReceive = await attempt(() => sys.endpointServe(memorySlot));
  r.copyWithoutGrant = await attempt(() => sys.capCopy(memorySlot));
  r.unknownSyscall = await attempt(() => sys.raw("no_such_call"));
  r.pmoZeroPages = await attempt(() => sys.pmoCreate(0));
  r.pmoStringPages = await attempt(() => sys.raw("pmo_create", "many"));
  r.pmoOverQuota = await attempt(() => sys.pmoCreate(60000));
  r.programEscape = await attempt(() => sys.threadCreate(0, "../../../etc/passwd.ts"));
  const readOnlyGroup = await sys.capCopy(0, Right.READ | Right.GRANT);
  r.grantWithoutWrite = await attempt(() => sys.capGrant(readOnlyGroup, memorySlot));
  r.grantNotAGroup = await attempt(() => sys.capGrant(memorySlot, memorySlot));

  // Derivation tree: E (all rights) → A (mint: CALL|GRANT, badge 5) → B (copy: CALL), C (copy: CALL|GRANT).
  const e = await sys.endpointCreate();
  const a = await sys.capMint(e, Right.CALL | Right.GRANT, 5);
  const b = await sys.capCopy(a, Right.CALL);
  const c = await sys.capCopy(a);
  r.childInfo = await attempt(() => sys.capInfo(c));
  r.escalate = await attempt(() => sys.capCopy(a, RIGHTS_ALL));
  r.copyFromNoGrant = await attempt(() => sys.capCopy(b));
  r.rebadge = await attempt(() => sys.capMint(c, Right.CALL, 6));
  r.revokeCount = await attempt(() => sys.capRevoke(e));
  r.staleAfterRevoke = await attempt(() => sys.capInfo(b));
  r.staleGrandchild = await attempt(() => sys.capInfo(c));
  r.originalSurvives = await attempt(() => sys.capInfo(e));

  // Badge delivery: serve our own endpoint, call it through a badged capability.
  const mine = await sys.endpointCreate();
  await ctx.serve(mine, (req) => new TextEncoder().encode(String(req.badge)));
  const badged = await sys.capMint(mine, Right.CALL, 42);
  const conn = await ctx.connect(badged);
  r.badgeSeen = await attempt(async () =>
    new TextDecoder().decode(unwrap(await conn.call(9), "self"))
  );
  r.oversized = await attempt(() => conn.call(9, new Uint8Array(2000)));
  // Revoking the badged capability closes the connection made through it.
  await sys.capRevoke(mine);
  r.callAfterRevoke = await attempt(() => conn.call(9));

  // Isolation: Deno APIs the worker's permissions deny, and a read-only mapping.
  r.readFile = await attempt(() => Deno.readTextFileSync("/etc/hostname"));
  r.env = await attempt(() => Deno.env.get("HOME"));
  r.spawn = await attempt(() => new Deno.Command("true").outputSync());
  const ro = await sys.capCopy(await sys.pmoCreate(1), Right.READ | Right.GRANT);
  r.mapWritableWithoutWrite = await attempt(() => sys.pmoMap(ro, true));
  const roMem = await ctx.map(ro, false);
  r.writeReadOnly = await attempt(() => roMem.setU32(0, 1));

  // The memory server still answers, and saw the badge init minted for us.
  const memory = await ctx.connect(memorySlot);
  r.memoryStatus = await attempt(async () =>
    parseJson<ServerStatus>(unwrap(await memory.call(Label.STATUS), "status")).name
  );
  r.memoryUnknownLabel = await attempt(async () => unwrap(await memory.call(999), "label 999"));
  ctx.print(`captest ${JSON.stringify(r)}`);
});
