/**
 * init, the root task. It holds the initial capabilities (slot 0 its cap
 * group, 1 its thread, 2 the timer IRQ) and, on a fresh system, starts every
 * server of config.ts in its own cap group with only the capabilities it
 * needs, checks each with STATUS and ECHO, then starts the requested apps.
 * On resume the kernel has restored every thread; init has nothing to redo.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { Right } from "../../kernel/abi/rights.ts";
import type { RestartPolicy } from "../../kernel/abi/protocol.ts";
import { Label, type ServerStatus } from "../protocol.ts";
import { parseJson, unwrap } from "../runtime/ipc.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import {
  APP_QUOTA_OBJECTS,
  APP_QUOTA_PAGES,
  APP_TIMER_SLOT,
  APPS,
  NEEDS_FIRST_SLOT,
  SERVICE_SLOT,
  SERVICES,
} from "./config.ts";

const TIMER_IRQ_SLOT = 2;

/** Grants `group` a badged CALL capability to each needed service, from slot 3 on. */
async function grantNeeds(
  ctx: Context,
  group: number,
  needs: string[],
  endpoints: Map<string, number>,
  badge: number,
): Promise<void> {
  for (const [i, need] of needs.entries()) {
    const ep = endpoints.get(need);
    if (ep === undefined) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `init: "${need}" must be started before its users`,
      );
    }
    await ctx.sys.capGrant(group, ep, Right.CALL, badge, NEEDS_FIRST_SLOT + i);
  }
}

/** The restart policy of component `name`: the machine's --policy for it, else `declared`. */
function policyOf(ctx: Context, name: string, declared: RestartPolicy): RestartPolicy {
  const overrides = (ctx.args.policies ?? {}) as Record<string, RestartPolicy>;
  return overrides[name] ?? declared;
}

/** Starts one server and checks it answers STATUS and ECHO. */
async function startService(
  ctx: Context,
  svc: (typeof SERVICES)[number],
  endpoints: Map<string, number>,
  badge: number,
): Promise<void> {
  const t0 = performance.now();
  const group = await ctx.sys.capGroupCreate(svc.name, svc.quotaPages);
  const ep = await ctx.sys.endpointCreate();
  endpoints.set(svc.name, ep);
  await ctx.sys.capGrant(group, ep, Right.RECEIVE | Right.READ, undefined, SERVICE_SLOT);
  await grantNeeds(ctx, group, svc.needs, endpoints, badge);
  await ctx.sys.threadCreate(group, svc.program, {}, policyOf(ctx, svc.name, svc.policy));
  const conn = await ctx.connect(ep);
  const status = parseJson<ServerStatus>(
    unwrap(await conn.call(Label.STATUS), `${svc.name} status`),
  );
  const probe = new TextEncoder().encode(`hello ${svc.name}`);
  const echo = unwrap(await conn.call(Label.ECHO, probe), `${svc.name} echo`);
  if (new TextDecoder().decode(echo) !== `hello ${svc.name}`) {
    throw new TardigradeError(Err.E_BAD_MESSAGE, `init: ${svc.name} echoed the wrong bytes`);
  }
  ctx.log(
    `init: ${status.name} server up (status + echo) in ${(performance.now() - t0).toFixed(1)} ms`,
  );
}

/** Starts one app with a timer notification and CALL capabilities to its services. */
async function startApp(ctx: Context, name: string, endpoints: Map<string, number>, badge: number) {
  const app: (typeof APPS)[string] & { args?: Record<string, unknown> } = APPS[name] ??
    programApp(name);
  if (!app) {
    throw new TardigradeError(
      Err.E_NOT_FOUND,
      `init: no app named "${name}"; known apps: ${Object.keys(APPS).join(", ")}`,
    );
  }
  const groupName = name.split("?")[0].replace(/^.*\//, "").replace(/\.ts$/, "");
  const objects = typeof app.args?.quotaObjects === "number"
    ? app.args.quotaObjects
    : APP_QUOTA_OBJECTS;
  const group = await ctx.sys.capGroupCreate(groupName, APP_QUOTA_PAGES, objects);
  if (app.timerMs) {
    const notification = await ctx.sys.notificationCreate();
    await ctx.sys.capGrant(
      group,
      notification,
      Right.RECEIVE | Right.READ,
      undefined,
      APP_TIMER_SLOT,
    );
    await ctx.sys.irqBind(TIMER_IRQ_SLOT, notification, app.timerMs);
  }
  await grantNeeds(ctx, group, app.needs, endpoints, badge);
  await ctx.sys.threadCreate(group, app.program, app.args ?? {}, policyOf(ctx, groupName, "fresh"));
  ctx.log(`init: app ${name} started`);
}

/**
 * An app given as a program path, optionally with arguments:
 * `tests/programs/x.ts?pages=64&objects=1000` (numbers stay numbers). It may
 * call every service and gets a 10 ms timer unless `timerMs` says otherwise,
 * and 512 kernel records unless `quotaObjects` says otherwise.
 */
function programApp(
  spec: string,
): ((typeof APPS)[string] & { args: Record<string, unknown> }) | undefined {
  const [path, query = ""] = spec.split("?");
  if (!/^(tests\/programs|servers\/apps)\/[a-z0-9_-]+\.ts$/.test(path)) return undefined;
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(query)) args[k] = /^\d+$/.test(v) ? Number(v) : v;
  const timerMs = typeof args.timerMs === "number" ? args.timerMs : 10;
  return { program: path, needs: SERVICES.map((s) => s.name), timerMs, args };
}

runProgram(async (ctx) => {
  if (ctx.resumed) return;
  const endpoints = new Map<string, number>();
  let badge = 1;
  for (const svc of SERVICES) await startService(ctx, svc, endpoints, badge++);
  const apps = Array.isArray(ctx.args.apps) ? ctx.args.apps as string[] : [];
  for (const name of apps) await startApp(ctx, name, endpoints, badge++);
});
