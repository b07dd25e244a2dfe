/**
 * Progress of long work on a terminal: one line on stderr, redrawn in place
 * (`\r`) and cleared at the end, "NAME  i/N  elapsed 12.3 s  seed 1234".
 * It draws nothing when stderr is not a terminal or the run was asked for
 * `--json` (`quiet`), so piped and machine-read output stays as it was.
 * Lines a run prints while the progress line shows go through
 * {@link Progress.log}, which lifts the line, prints, and redraws it.
 *
 * @module
 */

/** What a {@link Progress} is told at its start; the last three are for tests. */
export interface ProgressOptions {
  /** What runs: "scenario crash", "bench kv". */
  name: string;
  /** Steps in all (iterations, kills, commands). */
  total: number;
  /** The seed of the run, when it has one. */
  seed?: number;
  /** Never draw (`--json`). */
  quiet?: boolean;
  /** Is stderr a terminal? (default: Deno.stderr.isTerminal()). */
  isTerminal?: () => boolean;
  /** Writes raw text to the terminal (default: to stderr, synchronously). */
  write?: (text: string) => void;
  /** Milliseconds now (default: performance.now()). */
  now?: () => number;
  /** Width of the terminal in characters (default: Deno.consoleSize(), else 80). */
  columns?: () => number;
}

/** Least time between two redraws of the line (a step may be much shorter). */
export const REDRAW_MS_MIN = 100;

/** Moves to the start of the line and erases it (ANSI: CR, then "erase in line"). */
const CLEAR_LINE = "\r\x1b[2K";

/** The progress line: "NAME  i/N  elapsed 12.3 s  seed 1234  DETAIL" (no seed, no detail: left out). */
export function formatProgress(
  name: string,
  done: number,
  total: number,
  elapsedMs: number,
  seed?: number,
  detail?: string,
): string {
  return [
    name,
    `${done}/${total}`,
    `elapsed ${(elapsedMs / 1000).toFixed(1)} s`,
    ...(seed === undefined ? [] : [`seed ${seed}`]),
    ...(detail ? [detail] : []),
  ].join("  ");
}

/** One progress line for one long run; see the module doc. */
export class Progress {
  /** Does this run draw at all (a terminal, not quiet)? */
  readonly active: boolean;
  private readonly write: (text: string) => void;
  private readonly now: () => number;
  private readonly start: number;
  private lastDraw = -Infinity;
  private shown = "";
  private done = 0;
  private detail?: string;
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly opts: ProgressOptions) {
    const isTerminal = opts.isTerminal ?? (() => Deno.stderr.isTerminal());
    this.active = opts.quiet !== true && isTerminal();
    this.write = opts.write ?? ((t) => writeStderr(t));
    this.now = opts.now ?? (() => performance.now());
    this.start = this.now();
  }

  /** `done` steps of the total are finished (`detail`: what runs now); redraws at most every 100 ms. */
  update(done: number, detail?: string): void {
    this.done = done;
    this.detail = detail;
    if (!this.active) return;
    const t = this.now();
    if (t - this.lastDraw < REDRAW_MS_MIN && done < this.opts.total) return;
    this.lastDraw = t;
    this.draw();
  }

  /** Prints `line` through `print` (default console.log) with the progress line lifted around it. */
  log(line: string, print: (s: string) => void = console.log): void {
    if (!this.active || this.shown === "") return print(line);
    this.write(CLEAR_LINE);
    print(line);
    this.draw();
  }

  /**
   * A log for work that announces its steps in lines: a line that does not
   * start with a space begins the next step (and is its detail); an
   * indented line is the detail of the current step.
   */
  stepLog(): (line: string) => void {
    let begun = 0;
    return (line) => {
      if (!line.startsWith(" ")) begun++;
      this.update(Math.max(0, begun - 1), line.trim());
    };
  }

  /**
   * Redraws every `ms` until {@link end}, so the elapsed time moves while one
   * long step runs in a worker (the timer never keeps the process alive).
   */
  redrawEvery(ms: number): void {
    if (!this.active || this.timer !== undefined) return;
    const timer = setInterval(() => this.draw(), ms);
    Deno.unrefTimer(timer);
    this.timer = timer;
  }

  /** Erases the line for good (call it when the run ends, also on failure). */
  end(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.active && this.shown !== "") this.write(CLEAR_LINE);
    this.shown = "";
  }

  private draw(): void {
    const { name, total, seed } = this.opts;
    const line = formatProgress(name, this.done, total, this.now() - this.start, seed, this.detail);
    // Longer than the terminal is wide, it would wrap and \r could not redraw it.
    this.shown = line.slice(0, Math.max(20, (this.opts.columns ?? terminalColumns)() - 1));
    this.write(CLEAR_LINE + this.shown);
  }
}

function terminalColumns(): number {
  try {
    // A pseudo-terminal without a size (script, some CI runners) says 0.
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

function writeStderr(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
}
