/**
 * The machine's command port: what a script or the supervisor may tell a
 * running machine, one JSON object per line on its stdin (open with
 * `--commands`, or `--fault-injection` which adds `inject`).
 *
 * - `{"t":"checkpoint-ms","ms":N}`: checkpoint every N ms from now on, 0 = off
 *   (benchmarks alternate on and off in one run, so both see the same JIT and host).
 * - `{"t":"checkpoint-now"}`: take a checkpoint now (the dashboard's button);
 *   the kernel logs the epoch once it has committed.
 * - `{"t":"inject","target":NAME,"fault":KIND,"seed":N}`: make a component
 *   commit a fault (docs/FAULTS.md); refused unless `--fault-injection`.
 * - `{"t":"console-input","text":LINE}`: a keyboard line for the console
 *   input device (kernel/console_in.ts): the program holding the device
 *   (the shell) reads it. One line, UTF-8, at most
 *   CONSOLE_INPUT_LINE_BYTES_MAX bytes (kernel/abi/limits.ts); `seq`, the
 *   line's number, lets a sender send again after a crash without a line
 *   being taken twice (tools/console_feed.ts).
 *
 * The supervisor (tools/boot.ts) takes the same commands as words:
 * `checkpoint-ms 5`, `inject fs throw 7`; with `--console` every other line it
 * reads is console input.
 *
 * @module
 */

import { CHECKPOINT_PERIOD_MS_MAX } from "../kernel/abi/limits.ts";
import { FAULT_KINDS, type FaultKind } from "../kernel/abi/protocol.ts";
import { encodeConsoleLine } from "../kernel/abi/console_in.ts";

/** One command on the port. */
export type MachineCommand =
  | { t: "checkpoint-ms"; ms: number }
  | { t: "checkpoint-now" }
  | { t: "inject"; target: string; fault: FaultKind; seed: number }
  | { t: "console-input"; text: string; seq?: number };

/** The verbs of the supervisor's words ({@link parseCommandWords}); any other line is console input. */
export const COMMAND_WORDS: ReadonlySet<string> = new Set([
  "checkpoint-ms",
  "checkpoint-now",
  "inject",
]);

/** The commands as the supervisor's words, for help and error messages. */
export const COMMAND_USAGE = `checkpoint-ms N (0…${CHECKPOINT_PERIOD_MS_MAX}, 0 = off) | ` +
  `checkpoint-now | ` +
  `inject TARGET FAULT [SEED] (with --fault-injection; FAULT one of ${FAULT_KINDS.join(", ")})`;

/** Parses a checkpoint period given as text (the flag, the supervisor's words). */
export function parseCheckpointMs(text: string, what = "--checkpoint-ms"): number {
  return checkCheckpointMs(text.trim() === "" ? NaN : Number(text), what, text);
}

/** Checks a checkpoint period; throws a message that says what is allowed. */
export function checkCheckpointMs(value: unknown, what: string, shown = String(value)): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 0 ||
    value > CHECKPOINT_PERIOD_MS_MAX
  ) {
    throw new Error(
      `${what} must be an integer in 0…${CHECKPOINT_PERIOD_MS_MAX} (0 turns checkpoints off), got ${shown}`,
    );
  }
  return value;
}

/** Checks a decoded JSON command; throws a message naming what is wrong. */
export function toCommand(cmd: unknown): MachineCommand {
  const c = (cmd ?? {}) as Record<string, unknown>;
  switch (c.t) {
    case "checkpoint-ms":
      return { t: "checkpoint-ms", ms: checkCheckpointMs(c.ms, "checkpoint-ms") };
    case "checkpoint-now":
      return { t: "checkpoint-now" };
    case "inject":
      if (typeof c.target !== "string" || !FAULT_KINDS.includes(c.fault as FaultKind)) {
        throw new Error(
          `inject needs a target name and a fault, one of ${FAULT_KINDS.join(", ")}`,
        );
      }
      return {
        t: "inject",
        target: c.target,
        fault: c.fault as FaultKind,
        seed: Number.isInteger(c.seed) ? (c.seed as number) >>> 0 : 1,
      };
    case "console-input":
      if (typeof c.text !== "string") throw new Error("console-input needs a text (one line)");
      encodeConsoleLine(c.text); // throws a message naming the limit
      return {
        t: "console-input",
        text: c.text,
        ...(Number.isInteger(c.seq) && (c.seq as number) >= 0 ? { seq: c.seq as number } : {}),
      };
    default:
      throw new Error(`unknown command; the commands are: ${COMMAND_USAGE}`);
  }
}

/** Parses the supervisor's words (`checkpoint-ms 5`, `inject fs throw 7`); throws on a bad line. */
export function parseCommandWords(line: string): MachineCommand {
  const [verb, ...rest] = line.trim().split(/\s+/);
  switch (verb) {
    case "checkpoint-ms":
      return { t: verb, ms: parseCheckpointMs(rest[0] ?? "", verb) };
    case "checkpoint-now":
      return { t: verb };
    case "inject":
      return toCommand({
        t: verb,
        target: rest[0],
        fault: rest[1],
        seed: rest[2] === undefined ? 1 : Number(rest[2]),
      });
    default:
      throw new Error(`unknown command "${verb}"; the commands are: ${COMMAND_USAGE}`);
  }
}
