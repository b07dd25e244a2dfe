/**
 * Entry point of the machine process: one computer. Killing this process
 * (SIGKILL) is a power failure; SIGTERM or SIGINT is a clean shutdown with a
 * final checkpoint. The supervisor (tools/boot.ts) starts it; scripts may
 * start it directly with the same flags.
 *
 * Flags: --image PATH, --image-mb N, --fresh, --checkpoint-ms N (0 = off),
 * --copy-method stop-and-copy|cow|hybrid, --apps a,b, --fsync,
 * --debug-barrier, --report-checkpoints, --digest, --power-fail STEP:INDEX[@EPOCH],
 * --commands (read commands from stdin, hw/commands.ts), --fault-injection (the
 * command port, with `inject`), --handler-budget-ms N,
 * --policy NAME=POLICY[,NAME=POLICY] (restart policies, overriding init's),
 * --console-start N (a test hook: new console rings start at byte offset N,
 * to test offsets past 2^31 and 2^32 without printing 4 GiB).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { TardigradeError } from "../kernel/abi/errors.ts";
import {
  CHECKPOINT_PERIOD_MS_DEFAULT,
  HANDLER_BUDGET_MS,
  IMAGE_BYTES_DEFAULT,
  IMAGE_PATH_DEFAULT,
} from "../kernel/abi/limits.ts";
import { type CopyMethod, RESTART_POLICIES, type RestartPolicy } from "../kernel/abi/protocol.ts";
import { Board, type BoardConfig, emit, type PowerFailSpec } from "./board.ts";
import type { PersistStep } from "./nvm_image.ts";
import { parseCheckpointMs } from "./commands.ts";

const COPY_METHODS: CopyMethod[] = ["stop-and-copy", "cow", "hybrid"];
const STEPS: PersistStep[] = [
  "page-before",
  "page-after",
  "superblock-before",
  "superblock-after",
  "superblock-torn",
];

/** Parses machine flags; throws a message naming the bad flag. */
export function parseMachineArgs(argv: string[]): BoardConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      image: { type: "string", default: IMAGE_PATH_DEFAULT },
      "image-mb": { type: "string", default: String(IMAGE_BYTES_DEFAULT / 1024 / 1024) },
      fresh: { type: "boolean", default: false },
      "checkpoint-ms": { type: "string", default: String(CHECKPOINT_PERIOD_MS_DEFAULT) },
      "copy-method": { type: "string", default: "hybrid" },
      apps: { type: "string", default: "" },
      fsync: { type: "boolean", default: false },
      "debug-barrier": { type: "boolean", default: false },
      "report-checkpoints": { type: "boolean", default: false },
      digest: { type: "boolean", default: false },
      "power-fail": { type: "string" },
      "fault-injection": { type: "boolean", default: false },
      commands: { type: "boolean", default: false },
      "handler-budget-ms": { type: "string", default: String(HANDLER_BUDGET_MS) },
      policy: { type: "string", default: "" },
      "console-start": { type: "string", default: "0" },
    },
    strict: true,
  });
  const imageMb = Number(values["image-mb"]);
  if (!Number.isInteger(imageMb) || imageMb < 8 || imageMb > 16384) {
    throw new Error(`--image-mb must be an integer in 8…16384, got ${values["image-mb"]}`);
  }
  const checkpointMs = parseCheckpointMs(values["checkpoint-ms"]);
  const copyMethod = values["copy-method"] as CopyMethod;
  if (!COPY_METHODS.includes(copyMethod)) {
    throw new Error(`--copy-method must be one of ${COPY_METHODS.join(", ")}, got ${copyMethod}`);
  }
  return {
    imagePath: values.image!,
    imageBytes: imageMb * 1024 * 1024,
    fresh: values.fresh!,
    checkpointMs,
    copyMethod,
    apps: values.apps ? values.apps.split(",").filter((a) => a.length > 0) : [],
    fsync: values.fsync!,
    debugBarrier: values["debug-barrier"]!,
    reportCheckpoints: values["report-checkpoints"]!,
    digest: values.digest!,
    powerFail: values["power-fail"] ? parsePowerFail(values["power-fail"]) : undefined,
    faultInjection: values["fault-injection"]!,
    commands: values.commands!,
    handlerBudgetMs: parseHandlerBudget(values["handler-budget-ms"]!),
    policies: parsePolicies(values.policy!),
    consoleStart: parseConsoleStart(values["console-start"]!),
  };
}

function parseHandlerBudget(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 50 || ms > 600_000) {
    throw new Error(`--handler-budget-ms must be an integer in 50…600000, got ${text}`);
  }
  return ms;
}

/** Highest --console-start: leaves 2^40 bytes of printing before offsets lose precision. */
const CONSOLE_START_MAX = Number.MAX_SAFE_INTEGER - 2 ** 40;

function parseConsoleStart(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || n > CONSOLE_START_MAX) {
    throw new Error(`--console-start must be an integer in 0…${CONSOLE_START_MAX}, got ${text}`);
  }
  return n;
}

/** "fs=rollback,memory=fresh" → { fs: "rollback", memory: "fresh" }. */
export function parsePolicies(text: string): Record<string, RestartPolicy> {
  const out: Record<string, RestartPolicy> = {};
  for (const item of text.split(",").filter((x) => x.length > 0)) {
    const [name, policy] = item.split("=");
    if (!name || !RESTART_POLICIES.includes(policy as RestartPolicy)) {
      throw new Error(
        `--policy takes NAME=POLICY pairs with POLICY one of ${
          RESTART_POLICIES.join(", ")
        }, got ${item}`,
      );
    }
    out[name] = policy as RestartPolicy;
  }
  return out;
}

/** "page-after:3@5" → the 4th page-after step of checkpoint 5 (epoch defaults to 1). */
export function parsePowerFail(spec: string): PowerFailSpec {
  const m = /^([a-z-]+):(\d+)(?:@(\d+))?$/.exec(spec);
  if (!m || !STEPS.includes(m[1] as PersistStep)) {
    throw new Error(
      `--power-fail must be STEP:INDEX[@EPOCH] with STEP one of ${STEPS.join(", ")}, got ${spec}`,
    );
  }
  return { step: m[1] as PersistStep, index: Number(m[2]), epoch: Number(m[3] ?? 1) };
}

if (import.meta.main) {
  let config: BoardConfig;
  try {
    config = parseMachineArgs(Deno.args);
  } catch (e) {
    emit({ t: "error", code: "E_BAD_ARGUMENT", text: (e as Error).message });
    Deno.exit(2);
  }
  const board = new Board(config);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => board.shutdown());
  }
  try {
    await board.run();
    Deno.exit(0);
  } catch (e) {
    const code = e instanceof TardigradeError ? e.codeName : "E_INTERNAL";
    emit({ t: "error", code, text: (e as Error).message });
    Deno.exit(2);
  }
}
