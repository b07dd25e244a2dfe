/**
 * The dashboard as the supervisor (tools/boot.ts) uses it: serve the page,
 * feed it every machine process's lines and fates, and do what its buttons
 * ask to the machine running now.
 *
 * - state.ts: the pure reducer of lines and supervisor events;
 * - server.ts: the HTTP routes, server-sent events and the action refusals;
 * - page.ts: the page.
 *
 * @module
 */

import type { MachineProcess } from "../machine_process.ts";
import { type ActionsAllowed, initialState, type SupervisorEvent } from "./state.ts";
import {
  DASHBOARD_PORT_DEFAULT,
  type DashboardActions,
  DashboardHub,
  serveDashboard,
} from "./server.ts";

export { ACTION_FLAGS, DASHBOARD_PORT_DEFAULT } from "./server.ts";

/** The machine flags the dashboard needs, each with its value if it takes one (added when missing). */
export const DASHBOARD_MACHINE_FLAGS: string[][] = [
  ["--report-checkpoints"],
  ["--report-ms", "500"],
];

/** `machineArgs` with every flag of {@link DASHBOARD_MACHINE_FLAGS} it lacks. */
export function withDashboardFlags(machineArgs: string[]): string[] {
  const missing = DASHBOARD_MACHINE_FLAGS.filter(([flag]) => !machineArgs.includes(flag));
  return [...machineArgs, ...missing.flat()];
}

/** The dashboard's port from `--dashboard` and `--dashboard-port N` (0: any free one); undefined: off. */
export function dashboardPortOf(on: boolean, port: string | undefined): number | undefined {
  if (port === undefined) return on ? DASHBOARD_PORT_DEFAULT : undefined;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw new Error(`--dashboard-port must be a port number in 0…65535, got ${port}`);
  }
  return n;
}

/** The dashboard of one supervisor. */
export interface SupervisorDashboard {
  /** The port it serves on. */
  port: number;
  /** Feeds a machine process that just started: its pid, its lines, its exit. */
  watch(machine: MachineProcess): void;
  /** Stops serving. */
  close(): Promise<void>;
}

/**
 * Serves the dashboard on 127.0.0.1:`port` with the buttons `allowed`
 * enables; `current` is the machine running now (undefined between two).
 */
export async function startDashboard(
  port: number,
  allowed: ActionsAllowed,
  current: () => MachineProcess | undefined,
): Promise<SupervisorDashboard> {
  const hub = new DashboardHub(initialState(allowed));
  const event = (supervisor: SupervisorEvent) => hub.feed({ atMs: Date.now(), supervisor });
  let up = false;
  const running = (): MachineProcess => {
    const m = current();
    if (!m || !up) throw new Error("the machine is down; wait for it to resume");
    return m;
  };
  const actions: DashboardActions = {};
  if (allowed.checkpoint) {
    actions.checkpoint = async () => {
      await running().send({ t: "checkpoint-now" });
      event({ t: "action", action: "checkpoint", text: "checkpoint asked for" });
      return "checkpoint asked for; the log shows its epoch once it has committed";
    };
  }
  if (allowed.inject) {
    actions.inject = async (target, fault) => {
      await running().inject(target, fault, Date.now() >>> 0);
      const text = `fault ${fault} injected into ${target}`;
      event({ t: "action", action: "inject", text });
      return text;
    };
  }
  if (allowed.powerCut) {
    actions.powerCut = () => {
      const m = running();
      event({ t: "action", action: "power-cut", text: `power cut: SIGKILL to ${m.child.pid}` });
      m.child.kill("SIGKILL");
      return Promise.resolve(`power cut: machine process ${m.child.pid} killed`);
    };
  }
  const server = await serveDashboard({ port, hub, actions });
  return {
    port: server.port,
    watch(machine) {
      up = true;
      event({ t: "machine-started", pid: machine.child.pid });
      machine.onLine((line) => hub.feed({ atMs: Date.now(), line }));
      machine.exited.then((status) => {
        up = false;
        event({ t: "machine-exited", code: status.code, signal: status.signal });
      });
    },
    async close() {
      hub.close();
      await server.shutdown();
    },
  };
}
