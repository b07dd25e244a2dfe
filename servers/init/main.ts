/**
 * init, the root task. It holds the initial capabilities (kernel/abi/
 * slots.ts: its cap group, its thread, the timer IRQ) and, on a fresh
 * system, starts every server of config.ts (the optional ones only when
 * `--apps` names them) in its own cap group with only the capabilities it
 * needs (spawn.ts, by name), checks each with STATUS and ECHO, then starts
 * the requested apps. On resume the kernel has restored every thread; init
 * has nothing to redo.
 *
 * @module
 */

import { Err, TardigradeError } from "../../kernel/abi/errors.ts";
import { Right } from "../../kernel/abi/rights.ts";
import { MonitorRight } from "../../kernel/abi/report.ts";
import type { RestartPolicy } from "../../kernel/abi/protocol.ts";
import {
  INIT_CONSOLE_IN_IRQ_SLOT,
  INIT_CONSOLE_IN_SLOT,
  INIT_MONITOR_SLOT,
  INIT_NIC_IRQ_SLOT,
  INIT_NIC_RX_SLOT,
  INIT_NIC_TX_SLOT,
  INIT_TIMER_IRQ_SLOT,
} from "../../kernel/abi/slots.ts";
import { Label, type ServerStatus } from "../protocol.ts";
import { parseJson, unwrap } from "../runtime/ipc.ts";
import { CapName } from "../runtime/names.ts";
import { type Context, runProgram } from "../runtime/program.ts";
import {
  APP_QUOTA_OBJECTS,
  APP_QUOTA_PAGES,
  type AppConfig,
  APPS,
  PROGRAM_APP_TIMER_MS,
  type ServiceConfig,
  SERVICES,
  servicesFor,
} from "./config.ts";
import { type Grant, spawn } from "./spawn.ts";

/** Init's slots of the endpoints of the servers started so far, by name. */
type Endpoints = Map<string, number>;

/**
 * The system monitor, for a `monitor` need: READ, and CONTROL when the
 * machine was formatted with --shell-control (init's `shellControl` argument).
 */
function monitorGrant(ctx: Context): [string, Grant] {
  const rights = MonitorRight.READ | (ctx.args.shellControl === true ? MonitorRight.CONTROL : 0);
  return [CapName.MONITOR, { slot: INIT_MONITOR_SLOT, rights }];
}

/** A badged CALL capability to each needed service, named after it (the monitor for `monitor`). */
function needGrants(
  ctx: Context,
  needs: string[],
  endpoints: Endpoints,
  badge: number,
): Array<[string, Grant]> {
  return needs.map((need) => {
    if (need === CapName.MONITOR) return monitorGrant(ctx);
    const slot = endpoints.get(need);
    if (slot === undefined) {
      throw new TardigradeError(
        Err.E_NOT_FOUND,
        `init: "${need}" must be started before its users (servers/init/config.ts SERVICES order)`,
      );
    }
    return [need, { slot, rights: Right.CALL, badge }];
  });
}

/** The restart policy of component `name`: the machine's --policy for it, else `declared`. */
function policyOf(ctx: Context, name: string, declared: RestartPolicy): RestartPolicy {
  const overrides = (ctx.args.policies ?? {}) as Record<string, RestartPolicy>;
  return overrides[name] ?? declared;
}

/** The NIC's transmit ring, receive PMO and IRQ, for the network driver. */
function nicGrants(): Array<[string, Grant]> {
  const rw = Right.READ | Right.WRITE;
  return [
    [CapName.NIC, { slot: INIT_NIC_TX_SLOT, rights: rw }],
    [CapName.NIC_RX, { slot: INIT_NIC_RX_SLOT, rights: rw }],
    [CapName.NIC_IRQ, { slot: INIT_NIC_IRQ_SLOT, rights: Right.READ }],
  ];
}

/** The console input device's PMO and IRQ, for the app that serves the console. */
function consoleGrants(): Array<[string, Grant]> {
  return [
    [CapName.CONSOLE_IN, { slot: INIT_CONSOLE_IN_SLOT, rights: Right.READ | Right.WRITE }],
    [CapName.CONSOLE_IN_IRQ, { slot: INIT_CONSOLE_IN_IRQ_SLOT, rights: Right.READ }],
  ];
}

/** Starts one server and checks it answers STATUS and ECHO. */
async function startService(
  ctx: Context,
  svc: ServiceConfig,
  endpoints: Endpoints,
  badge: number,
): Promise<void> {
  const t0 = performance.now();
  const ep = await ctx.sys.endpointCreate();
  const args = svc.args?.(ctx.args) ?? {};
  await spawn(ctx.sys, {
    name: svc.name,
    program: svc.program,
    quotaPages: svc.quotaFor?.(args) ?? svc.quotaPages,
    quotaObjects: svc.quotaObjects,
    policy: policyOf(ctx, svc.name, svc.policy),
    caps: [
      [CapName.SERVICE, { slot: ep, rights: Right.RECEIVE | Right.READ }],
      ...needGrants(ctx, svc.needs, endpoints, badge),
      ...(svc.nic ? nicGrants() : []),
    ],
    args,
  });
  endpoints.set(svc.name, ep);
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
async function startApp(ctx: Context, name: string, endpoints: Endpoints, badge: number) {
  const [base, query = ""] = name.split("?");
  const app: AppConfig & { args?: Record<string, unknown> } | undefined = Object.hasOwn(APPS, base)
    ? { ...APPS[base], args: queryArgs(query) }
    : programApp(name, [...endpoints.keys()]);
  if (!app) {
    throw new TardigradeError(
      Err.E_NOT_FOUND,
      `init: no app named "${name}"; known apps: ${Object.keys(APPS).join(", ")}`,
    );
  }
  const groupName = name.split("?")[0].replace(/^.*\//, "").replace(/\.ts$/, "");
  const caps: Array<[string, Grant]> = [];
  if (app.timerMs) {
    const notification = await ctx.sys.notificationCreate();
    caps.push([CapName.TIMER, { slot: notification, rights: Right.RECEIVE | Right.READ }]);
    await ctx.sys.irqBind(INIT_TIMER_IRQ_SLOT, notification, app.timerMs);
  }
  caps.push(...needGrants(ctx, app.needs, endpoints, badge));
  const wanted = (app.wants ?? []).filter((w) => endpoints.has(w));
  caps.push(...needGrants(ctx, wanted, endpoints, badge));
  const ep = app.serves ? await ctx.sys.endpointCreate() : undefined;
  if (ep !== undefined) {
    caps.push([CapName.SERVICE, { slot: ep, rights: Right.RECEIVE | Right.READ }]);
  }
  if (app.console) caps.push(...consoleGrants());
  await spawn(ctx.sys, {
    name: groupName,
    program: app.program,
    quotaPages: app.quotaPages?.(app.args ?? {}) ?? APP_QUOTA_PAGES,
    quotaObjects: typeof app.args?.quotaObjects === "number"
      ? app.args.quotaObjects
      : APP_QUOTA_OBJECTS,
    policy: policyOf(ctx, groupName, "fresh"),
    caps,
    args: app.args,
  });
  if (ep !== undefined) endpoints.set(groupName, ep);
  ctx.log(`init: app ${name} started`);
}

/** The arguments of an app spec's query (`port=7008&mode=x`): numbers stay numbers. */
function queryArgs(query: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(query)) args[k] = /^\d+$/.test(v) ? Number(v) : v;
  return args;
}

/**
 * An app given as a program path, optionally with arguments:
 * `tests/programs/x.ts?pages=64&objects=1000` (numbers stay numbers). It may
 * call every service in `services` and gets a timer of PROGRAM_APP_TIMER_MS
 * unless `timerMs` says otherwise, and APP_QUOTA_OBJECTS kernel records
 * unless `quotaObjects` says otherwise, and APP_QUOTA_PAGES pages unless
 * `quotaPages` does.
 */
function programApp(
  spec: string,
  services: string[],
): (AppConfig & { args: Record<string, unknown> }) | undefined {
  const [path, query = ""] = spec.split("?");
  if (!/^(tests\/programs|servers\/apps)\/[a-z0-9_-]+\.ts$/.test(path)) return undefined;
  const args = queryArgs(query);
  const timerMs = typeof args.timerMs === "number" ? args.timerMs : PROGRAM_APP_TIMER_MS;
  const pages = args.quotaPages;
  const quotaPages = typeof pages === "number" ? () => pages : undefined;
  return { program: path, needs: services, timerMs, args, quotaPages };
}

runProgram(async (ctx) => {
  if (ctx.resumed) return;
  const endpoints: Endpoints = new Map();
  const apps = Array.isArray(ctx.args.apps) ? ctx.args.apps as string[] : [];
  let badge = 1;
  for (const svc of servicesFor(apps)) await startService(ctx, svc, endpoints, badge++);
  const optional = new Set(SERVICES.filter((s) => s.optional).map((s) => s.name));
  // Apps that serve first, so the apps that want them find their endpoints.
  const serves = (name: string) => APPS[name.split("?")[0]]?.serves === true;
  const ordered = [...apps.filter(serves), ...apps.filter((a) => !serves(a))];
  for (const name of ordered) {
    if (!optional.has(name)) await startApp(ctx, name, endpoints, badge++);
  }
});
