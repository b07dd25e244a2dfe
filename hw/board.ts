/**
 * The board: the main thread of the machine process.
 *
 * Map of this file:
 * - NVM controller: opens or formats the image (hw/nvm_image.ts), reads the
 *   kernel memory object at resume, loads PMO extents on request, writes each
 *   checkpoint's pages and commits it.
 * - Timer: starts the timer chip (hw/timer.ts), which ticks the kernel every
 *   millisecond (the timer IRQ), right after the boot message, so that the
 *   20 ms that starting a worker holds this thread overlap the kernel's
 *   restore.
 * - Console: holds each thread's output until the checkpoint covering it has
 *   committed, then releases it (delayed external visibility); the NIC's
 *   transmit ring likewise, in the same step (hw/nic.ts).
 * - Power-failure mode: injects a fault (power failure before, during or
 *   after a write, a torn write, a lost write, an I/O error) into one write of
 *   a checkpoint, through the image's own writer (hw/power_fail.ts).
 * - Image errors: an I/O error while persisting, or a checksum failure when a
 *   page is loaded, is an error line naming it and a halt with exit code
 *   {@link EXIT_IMAGE_ERROR}; only a simulated power failure exits
 *   {@link EXIT_POWER_FAILURE}.
 * - Command port (--commands or --fault-injection): reads commands from
 *   stdin, one JSON object per line (hw/commands.ts), and passes them to the
 *   kernel: `checkpoint-ms` changes the checkpoint period, `checkpoint-now`
 *   takes one at once, `inject` a fault.
 * - System rollback: on the kernel's request, stops every worker and the
 *   kernel and resumes from the last committed checkpoint, in this process.
 * - The monitor's lines: the system report (--report-ms) and structured
 *   events, emitted at once; a power cut the monitor asks for exits as a
 *   simulated power failure does. Under --report-ms also the NIC's output
 *   per connection, held and released (`{t:"net"}`, hw/nic_output.ts).
 * - NIC (--net-link): the link to the switch (hw/nic.ts).
 * - Workers: the kernel's, each thread's, init's started early and the
 *   timer chip's, all without permissions (hw/workers.ts).
 *
 * Everything the board says goes to stdout as one JSON object per line
 * ({@link MachineLine}); the supervisor renders it.
 *
 * @module
 */

import { Err, TardigradeError } from "../kernel/abi/errors.ts";
import type { PmoBuffers } from "../kernel/abi/layout.ts";
import { PAGE_BYTES } from "../kernel/abi/limits.ts";
import {
  type BoardToKernel,
  type CheckpointStats,
  type CopyMethod,
  type KernelToBoard,
  type RestartPolicy,
} from "../kernel/abi/protocol.ts";
import { type CheckpointRoot, KERNEL_PMO_PAGES } from "../kernel/abi/image_root.ts";
import {
  consoleHead,
  consoleReleased,
  readConsoleText,
  setConsoleReleased,
} from "../kernel/abi/console.ts";
import { NvmImage, PowerFailure } from "./nvm_image.ts";
import { armPowerFail, type PowerFailSpec } from "./power_fail.ts";
import { textLines } from "./text_lines.ts";
import { programWorker, ThreadWorkers } from "./workers.ts";
import { toCommand } from "./commands.ts";
import { Nic } from "./nic.ts";
import type { NetOutput } from "./nic_output.ts";
import { nicTableBytes } from "../kernel/abi/nic_rx.ts";
import type { MonitorEvent, SystemReport, ToBoard } from "../kernel/abi/report.ts";

/** One line of machine output. */
export type MachineLine =
  /**
   * A diagnostic, out at once (never held for a commit, so it may describe
   * state a crash undoes); `from` names the component whose `ctx.log` it is.
   */
  | { t: "log"; text: string; from?: string }
  | { t: "stage"; name: string; ms: number }
  | { t: "ready"; epoch: number; resumed: boolean; ms: number }
  | {
    t: "console";
    thread: number;
    name: string;
    /** Byte offset (UTF-8) of the text's first byte in the thread's console, from its start. */
    off: number;
    /** Whole characters: a frame starts and ends on a character boundary. */
    text: string;
    /** The committed checkpoint that covers this text. */
    epoch: number;
  }
  | { t: "boot"; fresh: boolean; epoch: number }
  /** With --report-checkpoints: the statistics of the checkpoints committed since the last such line. */
  | { t: "checkpoints"; stats: CommittedStats[] }
  | { t: "error"; code: string; text: string }
  | { t: "halt"; epoch: number }
  | { t: "digest"; epoch: number; digest: string; when: "commit" | "resume" }
  /** With --report-ms N: the system report (kernel/abi/report.ts), every N ms; a diagnostic. */
  | { t: "report"; report: SystemReport }
  /**
   * A structured event (crash, restart, dead, rollback, inject,
   * checkpoint-now, power-cut): a diagnostic, out at once like a log line.
   */
  | ({ t: "event" } & MonitorEvent)
  /**
   * With --report-ms N and a network link: each connection's outbound bytes
   * released to the switch and still held for a commit (hw/nic_output.ts), every N ms.
   */
  | { t: "net"; conns: NetOutput[] }
  /**
   * The console input device holds every line numbered below `lines` in a
   * committed state (kernel/abi/console_in.ts): at its attach and at each
   * commit that moved it. The sender may forget those lines. `attached`:
   * the device was just attached (a boot, a resume, a system rollback): the
   * lines sent from `lines` on are not there, the sender sends them again.
   */
  | { t: "console-input"; lines: number; attached?: boolean };

/** A committed checkpoint's statistics: the kernel's pause figures and the board's commit. */
export type CommittedStats = CheckpointStats & {
  /** The board's write of the checkpoint's pages and its commit record to the image, in µs. */
  commitUs: number;
};

/** Exit code of a machine stopped by a simulated power failure (as if SIGKILLed). */
export const EXIT_POWER_FAILURE = 137;
/** Exit code of a machine halted by an image error (E_IMAGE_IO, E_IMAGE_CORRUPT) while running. */
export const EXIT_IMAGE_ERROR = 74;

export type { PowerFailSpec } from "./power_fail.ts";

/** Settings of one machine. */
export interface BoardConfig {
  imagePath: string;
  imageBytes: number;
  fresh: boolean;
  checkpointMs: number;
  /** Start a checkpoint as soon as output waits for one (`--group-commit`, on by default). */
  groupCommit: boolean;
  copyMethod: CopyMethod;
  apps: string[];
  fsync: boolean;
  debugBarrier: boolean;
  powerFail?: PowerFailSpec;
  /**
   * Emit every checkpoint's statistics (benchmarks), in a line about every
   * {@link REPORT_EVERY_MS}: a line per checkpoint, a thousand a second, would
   * load the reader's core enough to move the figures it reads.
   */
  reportCheckpoints: boolean;
  /** Digest the state at every commit and after restoring (tests of resume exactness). */
  digest: boolean;
  /** Accept `inject` commands (and open the command port). */
  faultInjection: boolean;
  /** Init gives the shell's monitor capability CONTROL (`--shell-control`). */
  shellControl: boolean;
  /** The kernel sends the system report every this many ms (`--report-ms`); 0: never. */
  reportMs: number;
  /** Read commands from stdin (hw/commands.ts). */
  commands: boolean;
  /** The watchdog's budget for one run of handlers. */
  handlerBudgetMs: number;
  /** Restart policy per component name, overriding init's configuration. */
  policies: Record<string, RestartPolicy>;
  /** Byte offset new console rings start at (`--console-start`, a test hook; normally 0). */
  consoleStart: number;
  /** The switch's link socket (`--net-link`): the NIC connects to it; no network when absent. */
  netLink?: string;
  /** Pages of file data the FS server makes at a fresh boot (`--fs-mb`, or the image's default). */
  fsDataPages: number;
  /** Pages of FS metadata (`--fs-meta-mb`); 0: what the storage recommends. */
  fsMetaPages: number;
  /** Each FS client's quota in 4 KiB blocks (`--fs-client-blocks`); 0: none. */
  fsClientBlocks: number;
}

/** Longest the board holds checkpoint statistics before it emits them (--report-checkpoints). */
const REPORT_EVERY_MS = 50;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes one machine line to stdout. */
export function emit(line: MachineLine): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(line) + "\n"));
}

/** The board of one machine. */
export class Board {
  private image!: NvmImage;
  private kernel!: Worker;
  private readonly consoles = new Map<
    number,
    { ring: PmoBuffers; register: SharedArrayBuffer; name: string }
  >();
  /** The threads' workers, init's early one and the timer chip (hw/workers.ts). */
  private readonly workers = new ThreadWorkers();
  /** Releases console output at once while checkpoints are off. */
  private releaseTimer: ReturnType<typeof setInterval> | undefined;

  /** Lines of the image's openReport logged so far. */
  private imageLinesShown = 0;
  /** Statistics not yet reported (--report-checkpoints), and when the last report went out. */
  private unreported: CommittedStats[] = [];
  private reportedAt = 0;
  /** When the last `{t:"net"}` line went out (--report-ms). */
  private netReportedAt = 0;
  /** The checkpoint period now: the flag's, until a `checkpoint-ms` command. */
  private checkpointMs: number;
  private bootStarted = performance.now();
  private shutdownResolve: (() => void) | null = null;
  private shuttingDown = false;
  /** The network device; with no link to a switch it drops what it would send. */
  private readonly nic: Nic;
  /** The NIC's transmit ring (its HEAD is released at once while checkpoints are off). */
  private nicTxRing: PmoBuffers | undefined;
  /** The NIC's receive PMO (its table is acted on at once while checkpoints are off). */
  private nicRx: PmoBuffers | undefined;

  constructor(private readonly config: BoardConfig) {
    this.checkpointMs = config.checkpointMs;
    this.nic = new Nic(
      config.netLink,
      (text) => emit({ t: "log", text: `board: ${text}` }),
      () => this.toKernel({ t: "nic-irq" }),
    );
  }

  /** Opens the image, starts the kernel and runs until shut down. */
  async run(): Promise<void> {
    this.boot(this.config.fresh);
    this.releaseTimer = setInterval(() => {
      this.releaseIfNotCheckpointing();
      this.nic.tick();
      if (performance.now() - this.reportedAt >= REPORT_EVERY_MS) this.reportCheckpoints();
      this.reportNet();
    }, 1);
    if (this.config.reportMs > 0) this.nic.countOutput();
    if (this.config.commands || this.config.faultInjection) this.readCommands();
    this.nic.start();
    await new Promise<void>((resolve) => this.shutdownResolve = resolve);
  }

  /**
   * Starts the kernel worker and opens the image (fresh, or resuming). The
   * kernel's and init's workers are created first, so that they load their
   * modules while the image is opened and read.
   */
  private boot(fresh: boolean): void {
    this.bootStarted = performance.now();
    const t1 = performance.now();
    this.kernel = programWorker("kernel/main.ts", "kernel");
    this.workers.startEarlyInit();
    emit({
      t: "stage",
      name: "board: kernel and init workers created",
      ms: performance.now() - t1,
    });
    const t0 = performance.now();
    const formatted = this.openImage(fresh);
    emit({
      t: "stage",
      name: formatted ? "board: image formatted" : "board: image opened",
      ms: performance.now() - t0,
    });
    emit({ t: "boot", fresh: formatted, epoch: this.image.committedEpoch });
    this.kernel.onmessage = (e: MessageEvent<ToBoard>) => this.onKernel(e.data);
    this.kernel.onerror = (e) => {
      e.preventDefault();
      emit({ t: "error", code: "E_INTERNAL", text: `kernel panic: ${e.message}` });
      Deno.exit(70);
    };
    const t2 = performance.now();
    const kernel = formatted ? undefined : this.readKernelPages(this.committedRoot());
    if (kernel) emit({ t: "stage", name: "board: kernel pages read", ms: performance.now() - t2 });
    const c = this.config;
    const timer = new MessageChannel();
    this.toKernel({
      t: "boot",
      fresh: formatted,
      epoch: this.image.committedEpoch,
      kernelData: kernel?.data,
      kernelPagesUsed: kernel?.used ?? 0,
      timerPort: timer.port2,
      config: {
        checkpointMs: this.checkpointMs,
        groupCommit: c.groupCommit,
        copyMethod: c.copyMethod,
        nvmPages: this.image.pageCount,
        apps: c.apps,
        debugBarrier: c.debugBarrier,
        digest: c.digest,
        faultInjection: c.faultInjection,
        shellControl: c.shellControl,
        reportMs: c.reportMs,
        handlerBudgetMs: c.handlerBudgetMs,
        policies: c.policies,
        consoleStart: c.consoleStart,
        fs: {
          dataPages: c.fsDataPages,
          metaPages: c.fsMetaPages,
          clientBlocks: c.fsClientBlocks,
        },
      },
    }, [timer.port2]);
    // Starting a worker holds this thread for about 20 ms: now, while the kernel restores.
    this.workers.startTimer(timer.port1);
  }

  /**
   * Rolls the whole system back to the last committed checkpoint: every
   * worker and the kernel stop, and the kernel resumes from the image, as
   * after a power failure. Output not yet released is dropped with the state
   * that made it, so the outside never sees the difference.
   */
  private systemRollback(reason: string): void {
    emit({ t: "log", text: `board: system rollback (${reason})` });
    this.workers.stopThreads();
    this.consoles.clear();
    this.nic.detach();
    this.workers.stopTimer();
    this.kernel.terminate();
    this.image.close();
    try {
      this.boot(false);
    } catch (e) {
      this.haltOnImageError(e, "resuming after the rollback");
    }
  }

  /** The command port: one JSON command per stdin line (hw/commands.ts). */
  private async readCommands(): Promise<void> {
    for await (const line of textLines(Deno.stdin.readable)) {
      if (line.trim().length > 0) this.onCommand(line.trim());
    }
  }

  private onCommand(line: string): void {
    let cmd;
    try {
      cmd = toCommand(JSON.parse(line));
    } catch (e) {
      const why = e instanceof SyntaxError ? "it is not JSON" : (e as Error).message;
      return emit({ t: "log", text: `board: command refused (${why}): ${line.slice(0, 80)}` });
    }
    if (cmd.t === "checkpoint-ms") this.checkpointMs = cmd.ms;
    this.toKernel(cmd);
  }

  /**
   * With checkpoints off nothing is durable, so output is released at once:
   * when the kernel passes on a worker's `output` hint, and on the release
   * tick (which also carries the ACKs of bytes consumed with no reply).
   */
  private releaseIfNotCheckpointing(): void {
    if (this.checkpointMs !== 0) return;
    for (const [thread, c] of this.consoles) {
      this.releaseConsole(thread, consoleHead(c.ring), 0);
    }
    this.nic.release(this.nicTxRing ? consoleHead(this.nicTxRing) : undefined);
    this.nic.commitTable(this.nicRx ? nicTableBytes(this.nicRx) : undefined);
  }

  /** Opens the image, or formats it when `fresh` or when no file exists. Returns true if formatted. */
  private openImage(fresh: boolean): boolean {
    const { imagePath, imageBytes, fsync } = this.config;
    let exists = true;
    try {
      Deno.statSync(imagePath);
    } catch {
      exists = false;
    }
    if (fresh || !exists) {
      this.image = NvmImage.format(imagePath, imageBytes, { fsync });
      return true;
    }
    this.image = NvmImage.open(imagePath, { fsync });
    this.imageLinesShown = 0;
    this.showImageReport();
    if (this.image.committedEpoch === 0) return true;
    const root = this.committedRoot();
    if (root.kernelPages !== KERNEL_PMO_PAGES) {
      throw new TardigradeError(
        Err.E_IMAGE_VERSION,
        `${imagePath} holds ${root.kernelPages} kernel pages, this kernel expects ${KERNEL_PMO_PAGES}; boot with --fresh to format it`,
      );
    }
    return false;
  }

  private committedRoot(): CheckpointRoot {
    return JSON.parse(decoder.decode(this.image.committedRoot)) as CheckpointRoot;
  }

  /**
   * The kernel memory object's data, its used pages read from the image
   * straight into shared memory the kernel adopts (no copy, no transfer).
   */
  private readKernelPages(root: CheckpointRoot): { data: SharedArrayBuffer; used: number } {
    const used = Math.min(KERNEL_PMO_PAGES, root.kernelPagesUsed ?? KERNEL_PMO_PAGES);
    const data = new SharedArrayBuffer(KERNEL_PMO_PAGES * PAGE_BYTES);
    this.image.readPages(0, used, new Uint8Array(data, 0, used * PAGE_BYTES));
    return { data, used };
  }

  private toKernel(msg: BoardToKernel, transfer: Transferable[] = []): void {
    this.kernel.postMessage(msg, { transfer });
  }

  private onKernel(msg: ToBoard): void {
    switch (msg.t) {
      case "log":
        return emit({ t: "log", text: msg.text, from: msg.from });
      case "stage":
        return emit({ t: "stage", name: msg.name, ms: msg.ms });
      case "digest":
        return emit({ t: "digest", epoch: msg.epoch, digest: msg.digest, when: "resume" });
      case "ready":
        return emit({
          t: "ready",
          epoch: msg.epoch,
          resumed: msg.resumed,
          ms: performance.now() - this.bootStarted,
        });
      case "console":
        this.consoles.set(msg.threadId, {
          ring: msg.ring,
          register: msg.register,
          name: msg.name,
        });
        // After a resume the text up to the committed HEAD may not have gone out before the
        // crash: it goes now. Other text in a ring is released with the next commit, never before.
        if (msg.committedHead !== undefined) {
          this.releaseConsole(msg.threadId, msg.committedHead, this.image.committedEpoch);
        }
        return;
      case "nic-tx":
        this.nicTxRing = msg.ring;
        return this.nic.attachTx(msg.ring, msg.register, msg.committedHead);
      case "nic-rx":
        this.nicRx = msg.ring;
        return this.nic.attachRx(msg.ring, msg.register, msg.committedTable);
      case "console-in-lines":
        this.consoleInReported = msg.lines;
        return emit({ t: "console-input", lines: msg.lines, attached: true });
      case "load":
        try {
          this.image.readPages(msg.nvmBase, msg.pages, new Uint8Array(msg.data));
        } catch (e) {
          return this.haltOnImageError(e, `loading pages ${msg.nvmBase}+${msg.pages}`);
        }
        return this.toKernel({ t: "loaded", reqId: msg.reqId });
      case "commit":
        return this.commit(msg);
      case "unchanged": // nothing written: no commit time
        if (this.config.reportCheckpoints) this.unreported.push({ ...msg.stats, commitUs: 0 });
        return;
      case "panic":
        emit({ t: "error", code: msg.code, text: msg.text });
        return Deno.exit(70);
      case "spawn":
        return this.workers.spawn(msg, (threadId, message) => {
          this.toKernel({ t: "worker-failed", threadId, message });
        });
      case "terminate":
        return this.workers.terminate(msg.threadId);
      case "system-rollback":
        return this.systemRollback(msg.reason);
      case "shutdown-done":
        return this.halt();
      case "output":
        return this.releaseIfNotCheckpointing();
      case "report":
        return emit({ t: "report", report: msg.report });
      case "event":
        return emit({ t: "event", ...msg.event });
      case "power-cut":
        return this.powerCut(msg.reason);
    }
  }

  /** The console input device's LINES the board reported last (a commit that did not move it says nothing). */
  private consoleInReported: number | undefined;

  /** Reports the console input device's committed LINES when it moved. */
  private reportConsoleInLines(lines: number | undefined): void {
    if (lines === undefined || lines === this.consoleInReported) return;
    this.consoleInReported = lines;
    emit({ t: "console-input", lines });
  }

  /**
   * The monitor's `power_cut`: the machine stops as a power failure stops
   * it, nothing more written or released, exit {@link EXIT_POWER_FAILURE}
   * (a supervisor with --restart-on-crash powers it on again, and it resumes).
   */
  private powerCut(reason: string): never {
    emit({ t: "log", text: `board: power cut (${reason})` });
    Deno.exit(EXIT_POWER_FAILURE);
  }

  /** Writes a checkpoint's pages, commits it, then releases the output it covers. */
  private commit(msg: Extract<KernelToBoard, { t: "commit" }>): void {
    const t0 = performance.now();
    try {
      this.persist(msg);
    } catch (e) {
      if (!(e instanceof PowerFailure)) return this.haltOnImageError(e, `checkpoint ${msg.epoch}`);
      emit({ t: "log", text: `board: power failure during epoch ${msg.epoch}: ${e.message}` });
      Deno.exit(EXIT_POWER_FAILURE);
    }
    this.toKernel({ t: "committed", epoch: msg.epoch, staging: msg.pages });
    this.showImageReport();
    for (const [thread, head] of msg.consoleHeads) this.releaseConsole(thread, head, msg.epoch);
    this.nic.release(msg.nicTxHead);
    this.nic.commitTable(msg.nicTable);
    this.reportConsoleInLines(msg.consoleInLines);
    if (this.config.reportCheckpoints) {
      this.unreported.push({ ...msg.stats, commitUs: (performance.now() - t0) * 1000 });
    }
    if (msg.stats.digest) {
      emit({ t: "digest", epoch: msg.epoch, digest: msg.stats.digest, when: "commit" });
    }
  }

  private persist(msg: Extract<KernelToBoard, { t: "commit" }>): void {
    armPowerFail(this.image, this.config.powerFail, msg.epoch, (text) => emit({ t: "log", text }));
    const bytes = new Uint8Array(msg.pages);
    const pages = Array.from(msg.nvmPages, (page, i) => ({
      page,
      data: bytes.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES),
    }));
    this.image.writePages(msg.epoch, pages);
    this.image.commit(msg.epoch, encoder.encode(msg.root));
  }

  /**
   * Logs what the image found and repaired that is not logged yet: at open,
   * and after a commit (slots of an uncommitted checkpoint are discarded as
   * the image reads its slot headers, all of them by the first commit).
   */
  private showImageReport(): void {
    const lines = this.image.openReport;
    for (; this.imageLinesShown < lines.length; this.imageLinesShown++) {
      emit({ t: "log", text: `board: ${lines[this.imageLinesShown]}` });
    }
  }

  /** Emits a thread's console bytes up to `head` (committed) and records them released. */
  private releaseConsole(thread: number, head: number, epoch: number): void {
    const c = this.consoles.get(thread);
    if (!c) return;
    const released = consoleReleased(c.register);
    if (head <= released) return;
    const { off, text } = readConsoleText(c.ring, released, head);
    emit({ t: "console", thread, name: c.name, off, text, epoch });
    setConsoleReleased(c.register, head);
  }

  /**
   * An image error on a running machine (not a simulated power failure): an
   * error line with its code and message, then every worker stops, the image
   * closes, and the process exits {@link EXIT_IMAGE_ERROR}. Nothing more is
   * committed or released, so the image still holds the last committed
   * checkpoint (if the error left one).
   */
  private haltOnImageError(e: unknown, during: string): never {
    const code = e instanceof TardigradeError ? e.codeName : "E_IMAGE_IO";
    const message = e instanceof Error ? e.message : String(e);
    emit({ t: "error", code, text: `${during}: ${message.replace(`${code}: `, "")}` });
    emit({ t: "log", text: `board: halting on an image error (exit ${EXIT_IMAGE_ERROR})` });
    clearInterval(this.releaseTimer);
    this.workers.stopTimer();
    this.workers.stopAll();
    this.kernel?.terminate();
    this.image?.close();
    Deno.exit(EXIT_IMAGE_ERROR);
  }

  /** Asks the kernel for a clean shutdown (final checkpoint), then exits. */
  shutdown(): void {
    // Ctrl-C reaches both the supervisor and this process: act on the first request only.
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.toKernel({ t: "shutdown" });
    setTimeout(() => {
      emit({ t: "log", text: "board: kernel did not finish shutting down within 10 s; halting" });
      this.halt();
    }, 10_000);
  }

  /** With --report-ms N: the NIC's held and released output per connection, every N ms. */
  private reportNet(): void {
    const now = performance.now();
    if (this.config.reportMs === 0 || now - this.netReportedAt < this.config.reportMs) return;
    this.netReportedAt = now;
    const conns = this.nic.outputReport();
    if (conns) emit({ t: "net", conns });
  }

  /** Emits the statistics of the cuts since the last report (unchanged ones with `commitUs` 0). */
  private reportCheckpoints(): void {
    this.reportedAt = performance.now();
    if (this.unreported.length === 0) return;
    emit({ t: "checkpoints", stats: this.unreported });
    this.unreported = [];
  }

  private halt(): void {
    this.reportCheckpoints();
    clearInterval(this.releaseTimer);
    this.workers.stopTimer();
    this.nic.stop();
    emit({ t: "halt", epoch: this.image.committedEpoch });
    this.image.close();
    this.workers.stopAll();
    this.kernel.terminate();
    this.shutdownResolve?.();
  }
}
