/**
 * The supervisor: `deno task boot [--run-for SECONDS] [--restart-on-crash] [machine flags]`.
 *
 * Starts the machine process (hw/machine.ts) as a child, renders its boot
 * log and console on stdout and its diagnostics (`[log]` lines: the board's,
 * the kernel's and every component's `ctx.log`) on stderr, and on Ctrl-C asks it to shut down cleanly (final
 * checkpoint). With --run-for it shuts down by itself after that many
 * seconds of being ready and exits 0. With --restart-on-crash a machine that
 * dies (e.g. SIGKILL from a script) is powered on again and resumes. With
 * the machine flag --commands it reads commands on stdin (hw/commands.ts):
 * `checkpoint-ms N` changes the checkpoint period while the system runs;
 * with --fault-injection also `inject TARGET FAULT [SEED]`, e.g.
 * `inject fs throw` (docs/FAULTS.md). With the shell app (`--apps shell`;
 * `--console shell|off` chooses) every other line read on stdin is a
 * keyboard line for the shell's console session, sent to the machine's
 * console input device once the machine is ready; on a terminal with line
 * editing (tools/boot_terminal.ts).
 *
 * Machine flags: hw/machine.ts {@link MACHINE_FLAGS}; `--help` lists them
 * with the supervisor's own ({@link SUPERVISOR_FLAGS}), from the same
 * tables the parser reads.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EXIT_IMAGE_ERROR, EXIT_POWER_FAILURE, type MachineLine } from "../hw/board.ts";
import { ConsoleView, MachineProcess, opensCommandPort } from "./machine_process.ts";
import { COMMAND_USAGE, COMMAND_WORDS, parseCommandWords } from "../hw/commands.ts";
import { BootTerminal } from "./boot_terminal.ts";
import { ConsoleFeed } from "./console_feed.ts";
import { flagHelp, type FlagTable, HELP_FLAG } from "../hw/flags.ts";
import { MACHINE_FLAGS, parseMachineArgs } from "../hw/machine.ts";
import { SwitchProcess } from "./net_process.ts";
import { APPS } from "../servers/init/config.ts";
import {
  DASHBOARD_PORT_DEFAULT,
  dashboardPortOf,
  startDashboard,
  type SupervisorDashboard,
  withDashboardFlags,
} from "./dashboard/mod.ts";

/** The supervisor's own flags; every other flag is a machine flag (hw/machine.ts). */
export const SUPERVISOR_FLAGS = {
  "run-for": {
    type: "string",
    arg: "SECONDS",
    help: "shut down cleanly that long after ready, then exit 0",
  },
  "restart-on-crash": {
    type: "boolean",
    default: false,
    help: "power the machine on again whenever it dies",
  },
  net: {
    type: "boolean",
    default: false,
    help:
      "start the switch beside the machine (kept across crashes) and link the NIC to it (implied by an app that needs the network, e.g. echo)",
  },
  "echo-port": {
    type: "string",
    arg: "N",
    help: "the port the echo app (--apps echo) listens on (default 7007)",
  },
  "kv-port": {
    type: "string",
    arg: "N",
    help: "the port the kv store (--apps kv) listens on (default 6379)",
  },
  "shell-port": {
    type: "string",
    arg: "N",
    help: "the port the shell (--apps shell) listens on (default 2323)",
  },
  dashboard: {
    type: "boolean",
    default: false,
    help:
      `serve the live dashboard on http://127.0.0.1:${DASHBOARD_PORT_DEFAULT} (it outlives machine crashes)`,
  },
  "dashboard-port": {
    type: "string",
    arg: "N",
    help: "serve the dashboard on this port instead (implies --dashboard)",
  },
  "power-button": {
    type: "boolean",
    default: false,
    help: "let the dashboard cut the power (SIGKILL the machine; --restart-on-crash resumes it)",
  },
  console: {
    type: "string",
    arg: "MODE",
    help:
      "where the other lines read on stdin go: shell (the shell's console session; the default with --apps shell) or off",
  },
  ...HELP_FLAG,
} as const satisfies FlagTable;

/** `deno task boot --help`. */
export const BOOT_USAGE = `usage: deno task boot [flags]
Boots (or resumes) the machine and renders its boot log and console.

supervisor flags:
${flagHelp(SUPERVISOR_FLAGS)}

machine flags:
${flagHelp(MACHINE_FLAGS)}`;

interface SupervisorFlags {
  help: boolean;
  runForS?: number;
  restartOnCrash: boolean;
  net: boolean;
  /** The dashboard's port, when it is on. */
  dashboardPort?: number;
  powerButton: boolean;
  /** Lines on stdin that are not the supervisor's commands go to the shell's console. */
  console: boolean;
  /** Print a summary of each report line (the user asked for --report-ms; not when only the dashboard did). */
  showReports: boolean;
  imagePath: string;
  machineArgs: string[];
}

/** The supervisor flags that give an app its port: flag → app name in `--apps`. */
const PORT_FLAGS = { "echo-port": "echo", "kv-port": "kv", "shell-port": "shell" } as const;

/**
 * The `--apps` list with apps given their ports: with `ports` `{ echo:
 * "7008" }`, `echo` becomes `echo?port=7008` (init passes an app's query
 * as its args). Throws on a port outside 1…65535, naming `flag` of it.
 */
export function withAppPorts(apps: string, ports: Partial<Record<string, string>>): string {
  return apps.split(",").map((a) => {
    const port = ports[a];
    if (port === undefined) return a;
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 0xffff) {
      throw new Error(`--${a}-port must be a port number in 1…65535, got ${port}`);
    }
    return `${a}?port=${n}`;
  }).join(",");
}

/**
 * Parses supervisor and machine flags against both tables (an unknown flag
 * or a bad value is refused here, before a machine starts); the machine
 * flags but --image are passed on to the machine as they were typed.
 */
function parseSupervisorArgs(argv: string[]): SupervisorFlags {
  const { values, tokens } = parseArgs({
    args: argv,
    options: { ...SUPERVISOR_FLAGS, ...MACHINE_FLAGS },
    strict: true,
    tokens: true,
  });
  if (values.help) {
    return {
      help: true,
      restartOnCrash: false,
      net: false,
      powerButton: false,
      console: false,
      showReports: false,
      imagePath: "",
      machineArgs: [],
    };
  }
  const machineArgs: string[] = [];
  for (const t of tokens) {
    if (t.kind !== "option" || !Object.hasOwn(MACHINE_FLAGS, t.name) || t.name === "image") {
      continue;
    }
    let value = t.value;
    if (t.name === "apps" && value !== undefined) {
      const ports: Record<string, string> = {};
      for (const [flag, app] of Object.entries(PORT_FLAGS)) {
        const port = values[flag as keyof typeof PORT_FLAGS];
        if (port !== undefined) ports[app] = port;
      }
      value = withAppPorts(value, ports);
    }
    machineArgs.push(`--${t.name}`, ...(value === undefined ? [] : [value]));
  }
  parseMachineArgs(machineArgs); // the machine's own checks, before it starts
  const shell = appsInclude(machineArgs, "shell");
  const mode = values.console ?? (shell ? "shell" : "off");
  if (mode !== "shell" && mode !== "off") {
    throw new Error(`--console must be shell or off, got ${mode}`);
  }
  if (mode === "shell" && !shell) throw new Error("--console shell needs --apps shell");
  // Console input goes through the machine's command port.
  if (mode === "shell" && !opensCommandPort(machineArgs)) machineArgs.push("--commands");
  let runForS: number | undefined;
  if (values["run-for"] !== undefined) {
    runForS = Number(values["run-for"]);
    if (!(runForS >= 0)) {
      throw new Error(`--run-for needs a number of seconds, got ${values["run-for"]}`);
    }
  }
  const dashboardPort = dashboardPortOf(values.dashboard, values["dashboard-port"]);
  const args = dashboardPort === undefined ? machineArgs : withDashboardFlags(machineArgs);
  return {
    help: false,
    runForS,
    restartOnCrash: values["restart-on-crash"],
    net: values.net,
    dashboardPort,
    powerButton: values["power-button"],
    console: mode === "shell",
    showReports: machineArgs.includes("--report-ms"),
    imagePath: values.image,
    machineArgs: args,
  };
}

/** Where lines are read and the machine's lines are written (a terminal with editing, once main opens it). */
let terminal = BootTerminal.open(false, () => {});

const out = (s: string) => terminal.write(s + "\n");

const DIM = Deno.stderr.isTerminal() ? (s: string) => `\x1b[2m${s}\x1b[22m` : (s: string) => s;

/**
 * A diagnostic line, to stderr (dim on a terminal), apart from the guest
 * console on stdout: it left the machine at once, so unlike console text it
 * may describe state that a crash then undid.
 */
function diagnostic(line: Extract<MachineLine, { t: "log" }>): void {
  const text = line.from ? `[log]  ${line.from}: ${line.text}` : `[log]  ${line.text}`;
  terminal.write(DIM(text) + "\n", true);
}

/**
 * A structured event, readably: `[event] crash fs#38: thread 38 failed: …
 * (epoch 12)`; a diagnostic too (stderr), but never dim: it is what a
 * viewer watches for.
 */
export function eventText(line: Extract<MachineLine, { t: "event" }>): string {
  const who = line.thread !== undefined ? `${line.component}#${line.thread}` : line.component;
  return `[event] ${line.kind.padEnd(14)} ${who}: ${line.text} (epoch ${line.epoch})`;
}

/** A system report, as one summary line (the whole report is the JSON line itself). */
export function reportText(line: Extract<MachineLine, { t: "report" }>): string {
  const r = line.report;
  const threads = r.groups.flatMap((g) => g.threads);
  const notRunning = threads.filter((t) => t.state !== "running");
  const states = notRunning.length === 0
    ? "all running"
    : notRunning.map((t) => `${t.name}#${t.id} ${t.state}`).join(", ");
  const used = r.memory.nvmPages - r.memory.nvmFreePages;
  return `[report] up ${(r.uptimeMs / 1000).toFixed(1)} s, epoch ${r.epoch}, ` +
    `${r.groups.length} cap groups, ${threads.length} threads (${states}), ` +
    `NVM ${used} of ${r.memory.nvmPages} pages used`;
}

function render(line: MachineLine, view: ConsoleView, showReports: boolean): void {
  switch (line.t) {
    case "stage":
      return out(`[boot] ${line.name.padEnd(40, " ")} ${line.ms.toFixed(1).padStart(8)} ms`);
    case "log":
      return diagnostic(line);
    case "boot":
      if (line.fresh) view.reset();
      return out(
        line.fresh
          ? "[boot] fresh system (formatting a new one)"
          : `[boot] resuming from checkpoint epoch ${line.epoch}`,
      );
    case "ready":
      return out(
        `[boot] ready: ${line.resumed ? `resumed at epoch ${line.epoch}` : "fresh system"} in ${
          line.ms.toFixed(1)
        } ms`,
      );
    case "console": {
      const text = view.accept(line);
      if (text) {
        terminal.write(text.replace(/^(?=.)/gm, `${line.name}| `));
      }
      return;
    }
    case "error":
      return out(`error ${line.code}: ${line.text}`);
    case "halt":
      return out(`[boot] halted cleanly at checkpoint epoch ${line.epoch}`);
    case "checkpoints":
    case "net":
    case "console-input":
      return;
    case "digest":
      return out(`[boot] state digest at epoch ${line.epoch} (${line.when}): ${line.digest}`);
    case "event":
      return terminal.write(eventText(line) + "\n", true);
    case "report":
      if (showReports) terminal.write(DIM(reportText(line)) + "\n", true);
      return;
  }
}

async function main(): Promise<number> {
  let flags: SupervisorFlags;
  try {
    flags = parseSupervisorArgs(Deno.args);
  } catch (e) {
    console.error(`error E_BAD_ARGUMENT: ${(e as Error).message}\n${BOOT_USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.log(BOOT_USAGE);
    return 0;
  }
  const view = new ConsoleView();
  let stopping = false;
  let machine: MachineProcess | undefined;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    out("[boot] shutting down (final checkpoint)...");
    machine?.shutdown();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  let args = flags.machineArgs;
  const feed = flags.console ? new ConsoleFeed((t) => out(`[boot] ${t}`)) : undefined;
  if (opensCommandPort(args)) {
    terminal = BootTerminal.open(Deno.stdin.isTerminal() && Deno.stdout.isTerminal(), stop);
    readCommands(() => machine, feed);
  }
  const net = flags.net || appsNeedNetwork(args)
    ? await startSwitch(`${flags.imagePath}.link`)
    : undefined;
  if (net) args = [...args, "--net-link", net.linkPath];
  let dashboard: SupervisorDashboard | undefined;
  try {
    if (flags.dashboardPort !== undefined) {
      dashboard = await startDashboard(flags.dashboardPort, {
        checkpoint: opensCommandPort(args),
        inject: args.includes("--fault-injection"),
        powerCut: flags.powerButton,
      }, () => machine);
      out(`[boot] dashboard on http://127.0.0.1:${dashboard.port}/`);
    }
    const status = await superviseMachine(flags, args, view, {
      stop,
      stopping: () => stopping,
      setMachine: (m) => {
        machine = m;
        dashboard?.watch(m);
        feed?.attach(m);
      },
    });
    if (dashboard && !stopping) {
      stopping = true; // no machine left to shut down: Ctrl-C only ends the wait below
      out("[boot] the machine is off; the dashboard stays up until Ctrl-C");
      await new Promise<void>((resolve) => {
        Deno.addSignalListener("SIGINT", resolve);
        Deno.addSignalListener("SIGTERM", resolve);
      });
    }
    return status;
  } catch (e) {
    if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    console.error(
      `error E_BAD_ARGUMENT: the dashboard's port ${flags.dashboardPort} is in use: ` +
        "pick another with --dashboard-port N",
    );
    return 2;
  } finally {
    await dashboard?.close();
    terminal.close();
    await net?.stop();
  }
}

/**
 * True when `--apps` in the machine flags names an app that needs the
 * network driver (e.g. echo): it brings the switch without `--net`.
 */
export function appsNeedNetwork(machineArgs: string[]): boolean {
  return appNames(machineArgs).some((name) =>
    Object.hasOwn(APPS, name) && APPS[name].needs.includes("net")
  );
}

/** The app names `--apps` gives in the machine flags (their queries left out). */
function appNames(machineArgs: string[]): string[] {
  const at = machineArgs.indexOf("--apps");
  if (at < 0) return [];
  return machineArgs[at + 1].split(",").map((spec) => spec.split("?")[0]);
}

/** True when `--apps` in the machine flags names app `name`. */
export function appsInclude(machineArgs: string[], name: string): boolean {
  return appNames(machineArgs).includes(name);
}

/** Starts the switch on `linkPath`, its lines rendered: each port once it is reachable. */
async function startSwitch(linkPath: string): Promise<SwitchProcess> {
  const sw = await SwitchProcess.start(linkPath);
  sw.onLine((l) => {
    if (l.t === "listening") out(`[net]  listening on 127.0.0.1:${l.port}`);
    else if (l.t === "violation") out(`[net]  violation: ${l.text}`);
    else if (l.t === "log") terminal.write(DIM(`[log]  ${l.text}`) + "\n", true);
    else if (l.t === "closed") {
      terminal.write(DIM(`[log]  switch: closed connection ${l.conn}: ${l.why}`) + "\n", true);
    } else if (l.t === "machine") {
      terminal.write(DIM(`[log]  switch: machine ${l.up ? "up" : "down"}`) + "\n", true);
    }
  });
  return sw;
}

/** Runs machines one after another (with --restart-on-crash) until one exits for good. */
async function superviseMachine(
  flags: SupervisorFlags,
  machineArgs: string[],
  view: ConsoleView,
  { stop, stopping, setMachine }: {
    stop: () => void;
    stopping: () => boolean;
    setMachine: (m: MachineProcess) => void;
  },
): Promise<number> {
  let args = machineArgs;
  for (;;) {
    const machine = MachineProcess.start(flags.imagePath, args, { quietStderr: false });
    setMachine(machine);
    out(`[boot] machine process ${machine.child.pid} (kill -9 it to crash the machine)`);
    machine.onLine((l) => render(l, view, flags.showReports));
    machine.onLine((l) => {
      if (l.t === "ready" && flags.runForS !== undefined) setTimeout(stop, flags.runForS * 1000);
    });
    const status = await machine.exited;
    if (status.success) return 0;
    if (stopping() || !flags.restartOnCrash || machine.lines.some((l) => l.t === "error")) {
      const why = status.signal
        ? ` (${status.signal})`
        : status.code === EXIT_IMAGE_ERROR
        ? " (an image error, not a power failure: see the error line above)"
        : status.code === EXIT_POWER_FAILURE
        ? " (a simulated power failure)"
        : "";
      out(`[boot] machine exited with code ${status.code}${why}`);
      return status.code === 0 ? 0 : status.code || 1;
    }
    out(`[boot] machine died (${status.signal ?? `code ${status.code}`}); powering it on again`);
    args = args.filter((a) => a !== "--fresh");
  }
}

/**
 * Reads lines (`checkpoint-ms 5`, `inject fs throw`) and passes them to the
 * running machine; with `toConsole` every other line is console input.
 */
async function readCommands(
  current: () => MachineProcess | undefined,
  feed: ConsoleFeed | undefined,
): Promise<void> {
  out(
    feed
      ? `[boot] lines on stdin go to the shell (type help); the supervisor's own: ${COMMAND_USAGE}`
      : `[boot] commands on stdin: ${COMMAND_USAGE}`,
  );
  for await (const line of terminal.lines()) {
    if (line.trim() === "") continue;
    try {
      if (feed && !COMMAND_WORDS.has(line.trim().split(/\s+/)[0])) {
        feed.type(line);
      } else {
        await current()?.send(parseCommandWords(line));
      }
    } catch (e) {
      out(`[boot] ${(e as Error).message}`);
    }
  }
}

if (import.meta.main) Deno.exit(await main());
