/**
 * The dashboard's state: everything the page shows, reduced from the
 * machine's JSON lines (hw/board.ts `MachineLine`) and from what only the
 * supervisor knows (a machine process started, exited with a code or a
 * signal; a button was pressed). {@link reduce} is pure: the same inputs in
 * the same order give the same state, with no clock and no I/O (each input
 * carries the supervisor's wall-clock time), so it is tested line by line.
 *
 * Map of this file:
 * - {@link DashboardState} and its parts; {@link initialState}.
 * - {@link DashboardInput}: a machine line or a {@link SupervisorEvent}.
 * - {@link reduce}: one input → the next state; the per-line helpers below it.
 * - Bounds: {@link LOG_ENTRIES_MAX}, {@link TIMELINE_ENTRIES_MAX},
 *   {@link OUTAGES_MAX}, {@link PAUSE_BUCKETS_US}.
 *
 * The state lives in the supervisor, outside the machine, so it outlives a
 * crash: a machine that dies opens an outage (the gap the page draws) and
 * the `ready` of the machine that resumes closes it.
 *
 * @module
 */

import type { CommittedStats, MachineLine } from "../../hw/board.ts";
import type { SystemReport } from "../../kernel/abi/report.ts";
import type { NetOutput } from "../../hw/nic_output.ts";

/** Log entries kept (oldest dropped first). */
export const LOG_ENTRIES_MAX = 200;
/** Checkpoints kept for the timeline (oldest dropped first). */
export const TIMELINE_ENTRIES_MAX = 120;
/** Outages kept (oldest dropped first). */
export const OUTAGES_MAX = 50;
/** Upper bounds of the pause histogram's buckets in µs; a last bucket takes the rest. */
export const PAUSE_BUCKETS_US = [100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000];

/** What only the supervisor knows, fed to {@link reduce} beside the machine's lines. */
export type SupervisorEvent =
  /** A machine process was started (`pid` is what `kill -9` takes). */
  | { t: "machine-started"; pid: number }
  /** The machine process exited: `signal` when killed by one (SIGKILL: a power failure). */
  | { t: "machine-exited"; code: number; signal: string | null }
  /** A dashboard button was pressed and acted on (`text` says what was done). */
  | { t: "action"; action: "checkpoint" | "inject" | "power-cut"; text: string };

/** One input of {@link reduce}: the supervisor's wall-clock time and a line or an event. */
export type DashboardInput =
  & { atMs: number }
  & ({ line: MachineLine; supervisor?: never } | { supervisor: SupervisorEvent; line?: never });

/** Where the machine is in its life. */
export type MachinePhase = "starting" | "booting" | "running" | "down" | "halted";

/** The machine process as the supervisor sees it. */
export interface MachineView {
  phase: MachinePhase;
  /** The running (or last) machine process; null before the first start. */
  pid: number | null;
  /** Machine processes started, crashes (exits that were not clean) and resumes seen. */
  starts: number;
  crashes: number;
  resumes: number;
  /** The newest committed epoch any line named. */
  epoch: number;
  /** When the current machine became ready (null while it is not). */
  readySinceMs: number | null;
  /** The last exit: its code and signal. */
  lastExit: { code: number; signal: string | null } | null;
}

/** One committed checkpoint on the timeline. */
export interface TimelineEntry {
  /** When its statistics reached the supervisor. */
  atMs: number;
  epoch: number;
  pauseUs: number;
  /** The board's write and commit of it to the image. */
  commitUs: number;
  dirtyPages: number;
}

/** Console output the commit of one epoch released, on the timeline. */
export interface ReleaseEntry {
  /** When the first console line of that epoch reached the supervisor. */
  atMs: number;
  epoch: number;
  bytes: number;
}

/** Checkpoints: counts, the pause histogram, the timeline. */
export interface CheckpointsView {
  /** Committed checkpoints whose statistics arrived (--report-checkpoints). */
  committed: number;
  /**
   * Checkpoints asked for from the dashboard, and those taken on request
   * that committed (the kernel's `checkpoint-now` events: the dashboard's and the shell's).
   */
  requested: number;
  requestedCommitted: number;
  /** Count per bucket of {@link PAUSE_BUCKETS_US}, plus one for longer pauses. */
  pauseHistogram: number[];
  timeline: TimelineEntry[];
  /** Output held until its checkpoint committed, as it was released (newest last). */
  releases: ReleaseEntry[];
}

/** A component: a program whose console the supervisor has seen. */
export interface ComponentView {
  name: string;
  thread: number;
  /** Console bytes released to the outside (the end of the furthest frame). */
  releasedBytes: number;
}

/** A time the machine was down: from its exit to the next `ready` (null: still down). */
export interface Outage {
  fromMs: number;
  toMs: number | null;
  cause: string;
}

/** One entry of the crash, restart and resume log. */
export interface LogEntry {
  atMs: number;
  kind: string;
  text: string;
  epoch: number;
}

/** Everything the dashboard shows. */
export interface DashboardState {
  /** One more for every input that changed something. */
  version: number;
  /** Which buttons work, and the flag each needs when it does not. */
  allowed: ActionsAllowed;
  machine: MachineView;
  components: ComponentView[];
  /**
   * The newest system report (--report-ms; kernel/abi/report.ts): cap
   * groups, threads, capabilities, IPC, memory. Kept while the machine is
   * down (`reportAtMs` says how old it is): the page shows it as the state
   * before the crash.
   */
  report: SystemReport | null;
  reportAtMs: number | null;
  /** Network output per connection, released and held (the newest `{t:"net"}` line). */
  net: NetOutput[];
  checkpoints: CheckpointsView;
  outages: Outage[];
  log: LogEntry[];
}

/** The buttons the supervisor's flags allow. */
export interface ActionsAllowed {
  checkpoint: boolean;
  inject: boolean;
  powerCut: boolean;
}

/** The state before any input. */
export function initialState(allowed: ActionsAllowed): DashboardState {
  return {
    version: 0,
    allowed,
    machine: {
      phase: "starting",
      pid: null,
      starts: 0,
      crashes: 0,
      resumes: 0,
      epoch: 0,
      readySinceMs: null,
      lastExit: null,
    },
    components: [],
    report: null,
    reportAtMs: null,
    net: [],
    checkpoints: {
      committed: 0,
      requested: 0,
      requestedCommitted: 0,
      pauseHistogram: new Array(PAUSE_BUCKETS_US.length + 1).fill(0),
      timeline: [],
      releases: [],
    },
    outages: [],
    log: [],
  };
}

/**
 * The state after `input`. Returns `s` itself when the input changes
 * nothing the page shows (a stage timing, a digest); never mutates `s`.
 */
export function reduce(s: DashboardState, input: DashboardInput): DashboardState {
  const next = input.line
    ? onLine(s, input.line, input.atMs)
    : onEvent(s, input.supervisor!, input.atMs);
  return next === s ? s : { ...next, version: s.version + 1 };
}

function onEvent(s: DashboardState, e: SupervisorEvent, atMs: number): DashboardState {
  const m = s.machine;
  switch (e.t) {
    case "machine-started":
      return {
        ...s,
        machine: { ...m, phase: "booting", pid: e.pid, starts: m.starts + 1, readySinceMs: null },
        log: logged(s, atMs, "start", `machine process ${e.pid} started`),
      };
    case "machine-exited": {
      const clean = m.phase === "halted" && e.code === 0 && e.signal === null;
      const why = e.signal ?? `code ${e.code}`;
      const machine: MachineView = {
        ...m,
        phase: clean ? "halted" : "down",
        crashes: m.crashes + (clean ? 0 : 1),
        readySinceMs: null,
        lastExit: { code: e.code, signal: e.signal },
      };
      if (clean) {
        return { ...s, machine, log: logged(s, atMs, "exit", "machine halted cleanly") };
      }
      return {
        ...s,
        machine,
        outages: bounded([...s.outages, { fromMs: atMs, toMs: null, cause: why }], OUTAGES_MAX),
        log: logged(s, atMs, "crash", `machine process ${m.pid} died (${why})`),
      };
    }
    case "action":
      return {
        ...s,
        checkpoints: e.action === "checkpoint"
          ? { ...s.checkpoints, requested: s.checkpoints.requested + 1 }
          : s.checkpoints,
        log: logged(s, atMs, e.action, e.text),
      };
  }
}

function onLine(s: DashboardState, line: MachineLine, atMs: number): DashboardState {
  const m = s.machine;
  switch (line.t) {
    case "boot":
      return {
        ...s,
        components: line.fresh ? [] : s.components,
        machine: { ...m, epoch: Math.max(m.epoch, line.epoch) },
        log: logged(
          s,
          atMs,
          "boot",
          line.fresh ? "fresh system" : `resuming from epoch ${line.epoch}`,
          line.epoch,
        ),
      };
    case "ready":
      return onReady(s, line, atMs);
    case "checkpoints":
      return onCheckpoints(s, line.stats, atMs);
    case "console":
      return onConsole(s, line, atMs);
    case "halt":
      return {
        ...s,
        machine: { ...m, phase: "halted", epoch: Math.max(m.epoch, line.epoch) },
        log: logged(s, atMs, "halt", `halted at epoch ${line.epoch}`, line.epoch),
      };
    case "error":
      return { ...s, log: logged(s, atMs, "error", `${line.code}: ${line.text}`) };
    case "report":
      return {
        ...s,
        report: line.report,
        reportAtMs: atMs,
        machine: { ...m, epoch: Math.max(m.epoch, line.report.epoch) },
      };
    case "net":
      return { ...s, net: line.conns };
    case "event": {
      const who = line.thread === undefined ? line.component : `${line.component}#${line.thread}`;
      const asked = line.kind === "checkpoint-now";
      return {
        ...s,
        machine: { ...m, epoch: Math.max(m.epoch, line.epoch) },
        checkpoints: asked
          ? { ...s.checkpoints, requestedCommitted: s.checkpoints.requestedCommitted + 1 }
          : s.checkpoints,
        log: logged(s, atMs, line.kind, `${who}: ${line.text}`, line.epoch),
      };
    }
    case "log":
    case "stage":
    case "digest":
    case "console-input":
      return s;
  }
}

function onReady(
  s: DashboardState,
  line: Extract<MachineLine, { t: "ready" }>,
  atMs: number,
): DashboardState {
  const m = s.machine;
  const outages = s.outages.map((o) => o.toMs === null ? { ...o, toMs: atMs } : o);
  return {
    ...s,
    machine: {
      ...m,
      phase: "running",
      epoch: Math.max(m.epoch, line.epoch),
      resumes: m.resumes + (line.resumed ? 1 : 0),
      readySinceMs: atMs,
    },
    outages,
    log: logged(
      s,
      atMs,
      line.resumed ? "resume" : "ready",
      line.resumed
        ? `resumed at epoch ${line.epoch} in ${line.ms.toFixed(1)} ms`
        : `fresh system ready in ${line.ms.toFixed(1)} ms`,
      line.epoch,
    ),
  };
}

function onCheckpoints(s: DashboardState, stats: CommittedStats[], atMs: number): DashboardState {
  if (stats.length === 0) return s;
  const c = s.checkpoints;
  const pauseHistogram = [...c.pauseHistogram];
  for (const st of stats) pauseHistogram[pauseBucket(st.pauseUs)]++;
  // A cut that found nothing new paused but wrote and committed nothing (kernel/checkpoint.ts).
  const commits = stats.filter((st) => !st.unchanged);
  if (commits.length === 0) return { ...s, checkpoints: { ...c, pauseHistogram } };
  const entries = commits.map((st) => ({
    atMs,
    epoch: st.epoch,
    pauseUs: st.pauseUs,
    commitUs: st.commitUs,
    dirtyPages: st.dirtyPages,
  }));
  const newest = Math.max(...commits.map((st) => st.epoch));
  return {
    ...s,
    machine: { ...s.machine, epoch: Math.max(s.machine.epoch, newest) },
    checkpoints: {
      ...c,
      committed: c.committed + commits.length,
      pauseHistogram,
      timeline: bounded([...c.timeline, ...entries], TIMELINE_ENTRIES_MAX),
    },
  };
}

/** The histogram bucket of a pause of `us` µs. */
export function pauseBucket(us: number): number {
  const i = PAUSE_BUCKETS_US.findIndex((upTo) => us <= upTo);
  return i < 0 ? PAUSE_BUCKETS_US.length : i;
}

function onConsole(
  s: DashboardState,
  line: Extract<MachineLine, { t: "console" }>,
  atMs: number,
): DashboardState {
  const end = line.off + new TextEncoder().encode(line.text).length;
  const at = s.components.findIndex((c) => c.thread === line.thread);
  const before = at < 0 ? 0 : s.components[at].releasedBytes;
  if (end <= before) return s; // a re-send after a resume: nothing new left the machine
  const component = { name: line.name, thread: line.thread, releasedBytes: end };
  const components = at < 0
    ? [...s.components, component]
    : s.components.map((c, i) => i === at ? component : c);
  const grown = end - before;
  const releases = s.checkpoints.releases;
  const last = releases.at(-1);
  const next = last?.epoch === line.epoch
    ? [...releases.slice(0, -1), { ...last, bytes: last.bytes + grown }]
    : bounded([...releases, { atMs, epoch: line.epoch, bytes: grown }], TIMELINE_ENTRIES_MAX);
  return { ...s, components, checkpoints: { ...s.checkpoints, releases: next } };
}

function logged(
  s: DashboardState,
  atMs: number,
  kind: string,
  text: string,
  epoch = s.machine.epoch,
): LogEntry[] {
  return bounded([...s.log, { atMs, kind, text, epoch }], LOG_ENTRIES_MAX);
}

function bounded<T>(list: T[], max: number): T[] {
  return list.length > max ? list.slice(list.length - max) : list;
}
