/**
 * The dashboard's web server, run by the supervisor on 127.0.0.1 (outside
 * the machine, so it stays up across crashes and shows them).
 *
 * Map of this file:
 * - {@link DashboardHub}: holds the {@link DashboardState}, feeds it inputs
 *   ({@link reduce}) and tells subscribers of a new version, at most every
 *   {@link PUSH_INTERVAL_MS}.
 * - {@link serveDashboard}: `Deno.serve` with the routes:
 *   - `GET /` the page (tools/dashboard/page.ts), `GET /state.json` the state;
 *   - `GET /events` server-sent events, one `data:` line of state per update;
 *   - `POST /checkpoint`, `POST /inject` `{target, fault}`, `POST /powerfail`:
 *     each answers 403 with a message naming the flag that allows it
 *     ({@link ACTION_FLAGS}) unless the supervisor was given that flag.
 *
 * Answers are JSON `{ok, text}` (`{ok:false, code, text}` on a refusal).
 *
 * @module
 */

import { toCommand } from "../../hw/commands.ts";
import type { FaultKind } from "../../kernel/abi/protocol.ts";
import { type DashboardInput, type DashboardState, reduce } from "./state.ts";
import { DASHBOARD_PAGE } from "./page.ts";

/** The dashboard's default port (`--dashboard`). */
export const DASHBOARD_PORT_DEFAULT = 8700;
/** Server-sent updates go out at most this often (a console line each millisecond would flood). */
export const PUSH_INTERVAL_MS = 200;

/** What the buttons do; an action left out is refused with 403. Each resolves with what it did. */
export interface DashboardActions {
  checkpoint?: () => Promise<string>;
  inject?: (target: string, fault: FaultKind) => Promise<string>;
  powerCut?: () => Promise<string>;
}

/** The command-line flag that allows each action. */
export const ACTION_FLAGS = {
  checkpoint: "--commands",
  inject: "--fault-injection",
  powerCut: "--power-button",
} as const;

/** The dashboard's state and its subscribers. */
export class DashboardHub {
  private current: DashboardState;
  private readonly listeners = new Set<(s: DashboardState) => void>();
  private pushedVersion: number;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(initial: DashboardState) {
    this.current = initial;
    this.pushedVersion = initial.version;
    this.timer = setInterval(() => this.push(), PUSH_INTERVAL_MS);
  }

  /** The state now. */
  get state(): DashboardState {
    return this.current;
  }

  /** Applies one input (a machine line or a supervisor event). */
  feed(input: DashboardInput): void {
    this.current = reduce(this.current, input);
  }

  /** Calls `fn` with each new version (at most every {@link PUSH_INTERVAL_MS}); returns the unsubscribe. */
  subscribe(fn: (s: DashboardState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private push(): void {
    if (this.current.version === this.pushedVersion) return;
    this.pushedVersion = this.current.version;
    for (const fn of this.listeners) fn(this.current);
  }

  /** Stops the push timer. */
  close(): void {
    clearInterval(this.timer);
  }
}

/** A running dashboard server. */
export interface DashboardServer {
  /** The port it listens on (the one asked for, or the system's pick for 0). */
  port: number;
  /** Stops serving (open event streams are closed). */
  shutdown(): Promise<void>;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

function answer(status: number, body: Record<string, unknown>): Response {
  return new Response(JSON.stringify(body) + "\n", { status, headers: JSON_HEADERS });
}

/** A refused action: 403 and the flag that would allow it. */
function refused(action: keyof typeof ACTION_FLAGS, what: string): Response {
  return answer(403, {
    ok: false,
    code: "E_DENIED",
    text: `${what} is off: start the supervisor with ${ACTION_FLAGS[action]} to allow it`,
  });
}

/**
 * Serves the dashboard on 127.0.0.1:`port` (0: any free port). Listens
 * before it resolves; a port in use rejects with Deno's AddrInUse.
 */
export async function serveDashboard(
  opts: { port: number; hub: DashboardHub; actions: DashboardActions },
): Promise<DashboardServer> {
  const streams = new Set<() => void>();
  let listening: (port: number) => void;
  const port = new Promise<number>((resolve) => listening = resolve);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: opts.port,
    onListen: (addr) => listening(addr.port),
  }, (req) => route(req, opts.hub, opts.actions, streams));
  return {
    port: await port,
    shutdown: async () => {
      for (const close of streams) close();
      await server.shutdown();
    },
  };
}

async function route(
  req: Request,
  hub: DashboardHub,
  actions: DashboardActions,
  streams: Set<() => void>,
): Promise<Response> {
  const { pathname } = new URL(req.url);
  const key = `${req.method} ${pathname}`;
  switch (key) {
    case "GET /":
      return new Response(DASHBOARD_PAGE, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    case "GET /state.json":
      return answer(200, hub.state as unknown as Record<string, unknown>);
    case "GET /events":
      return eventStream(hub, streams);
    case "POST /checkpoint":
      if (!actions.checkpoint) return refused("checkpoint", "taking a checkpoint");
      return act(actions.checkpoint);
    case "POST /inject": {
      if (!actions.inject) return refused("inject", "fault injection");
      const inject = actions.inject;
      let cmd;
      try {
        const body = await req.json() as { target?: unknown; fault?: unknown };
        cmd = toCommand({ t: "inject", target: body.target, fault: body.fault });
      } catch (e) {
        return answer(400, { ok: false, code: "E_BAD_ARGUMENT", text: (e as Error).message });
      }
      if (cmd.t !== "inject") throw new Error("route: toCommand changed the command's kind");
      return act(() => inject(cmd.target, cmd.fault));
    }
    case "POST /powerfail":
      if (!actions.powerCut) return refused("powerCut", "cutting the power");
      return act(actions.powerCut);
    default:
      return answer(404, {
        ok: false,
        code: "E_NOT_FOUND",
        text: `no ${key}: the routes are GET /, /state.json, /events; ` +
          `POST /checkpoint, /inject {target, fault}, /powerfail`,
      });
  }
}

/** Runs an action: 200 with what it did, or 409 with why it could not (e.g. the machine is down). */
async function act(action: () => Promise<string>): Promise<Response> {
  try {
    return answer(200, { ok: true, text: await action() });
  } catch (e) {
    return answer(409, { ok: false, code: "E_UNAVAILABLE", text: (e as Error).message });
  }
}

/** `text/event-stream`: the state now, then each new version. */
function eventStream(hub: DashboardHub, streams: Set<() => void>): Response {
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (s: DashboardState) => {
        try {
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(s)}\n\n`));
        } catch { /* the client went away: cancel() cleans up */ }
      };
      send(hub.state);
      const unsubscribe = hub.subscribe(send);
      cleanup = () => {
        unsubscribe();
        streams.delete(close);
      };
      const close = () => {
        cleanup();
        try {
          controller.close();
        } catch { /* already closed */ }
      };
      streams.add(close);
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-store" },
  });
}
