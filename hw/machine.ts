/**
 * Entry point of the machine process: one computer. Killing this process
 * (SIGKILL) is a power failure; SIGTERM or SIGINT is a clean shutdown with a
 * final checkpoint. The supervisor (tools/boot.ts) starts it; scripts may
 * start it directly with the same flags.
 *
 * Flags: {@link MACHINE_FLAGS}, one table that both the parser and
 * `deno task boot --help` read (hw/flags.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { TardigradeError } from "../kernel/abi/errors.ts";
import {
  CHECKPOINT_PERIOD_MS_DEFAULT,
  FS_MB_DEFAULT,
  FS_SMALL_IMAGE_PAGES,
  HANDLER_BUDGET_MS,
  IMAGE_BYTES_DEFAULT,
  IMAGE_PATH_DEFAULT,
} from "../kernel/abi/limits.ts";
import { type CopyMethod, RESTART_POLICIES, type RestartPolicy } from "../kernel/abi/protocol.ts";
import { Board, type BoardConfig, emit, type PowerFailSpec } from "./board.ts";
import { type PersistStep, WRITE_FAULTS } from "./nvm_image.ts";
import { parseCheckpointMs } from "./commands.ts";
import type { FlagTable } from "./flags.ts";

const COPY_METHODS: CopyMethod[] = ["stop-and-copy", "cow", "hybrid"];
const STEPS: PersistStep[] = (["data", "header", "superblock"] as const).flatMap((kind) =>
  WRITE_FAULTS.map((fault): PersistStep => `${kind}-${fault}`)
);

/** Every machine flag: parsed by {@link parseMachineArgs}, listed by `deno task boot --help`. */
export const MACHINE_FLAGS = {
  image: {
    type: "string",
    default: IMAGE_PATH_DEFAULT,
    arg: "PATH",
    help: "the NVM image file (created if missing)",
  },
  "image-mb": {
    type: "string",
    default: String(IMAGE_BYTES_DEFAULT / 1024 / 1024),
    arg: "N",
    help: "size of a new image in MiB, 8…16384",
  },
  fresh: {
    type: "boolean",
    default: false,
    help: "format a new system, even over an existing image",
  },
  "fs-mb": {
    type: "string",
    default: "",
    arg: "N",
    help: `MiB of file data the FS server makes when a system is formatted, 1…4096 ` +
      `(default ${FS_MB_DEFAULT} on an image of 64 MiB or more, ${FS_SMALL_IMAGE_PAGES} pages on a smaller one)`,
  },
  "fs-meta-mb": {
    type: "string",
    default: "",
    arg: "N",
    help: `MiB of FS metadata (inodes, names, page maps), 0…256; 0: what the storage recommends ` +
      `(default 0 on an image of 64 MiB or more, ${FS_SMALL_IMAGE_PAGES} pages on a smaller one)`,
  },
  "fs-client-blocks": {
    type: "string",
    default: "0",
    arg: "N",
    help: "each FS client's quota of 4 KiB data blocks (ENOSPC past it); 0: no quota",
  },
  "checkpoint-ms": {
    type: "string",
    default: String(CHECKPOINT_PERIOD_MS_DEFAULT),
    arg: "N",
    help: "checkpoint period in ms; 0 turns checkpoints off",
  },
  "group-commit": {
    type: "string",
    default: "on",
    arg: "on|off",
    help: "on: a checkpoint starts as soon as output waits for one; off: only every period",
  },
  "copy-method": {
    type: "string",
    default: "hybrid",
    arg: COPY_METHODS.join("|"),
    help: "how a checkpoint copies the pages it captures",
  },
  apps: {
    type: "string",
    default: "",
    arg: "NAME,...",
    help:
      "apps to start: counter, writer, ledger, echo, or a program path (tests/programs/x.ts); NAME?k=v gives it arguments",
  },
  fsync: {
    type: "boolean",
    default: false,
    help: "flush the image to disk at every commit (fsync)",
  },
  "debug-barrier": {
    type: "boolean",
    default: false,
    help: "check at each checkpoint that no clean page changed without the write barrier",
  },
  "report-checkpoints": {
    type: "boolean",
    default: false,
    help: "print every checkpoint's statistics (benchmarks)",
  },
  digest: {
    type: "boolean",
    default: false,
    help: "print a digest of the state at every commit and after a resume",
  },
  "power-fail": {
    type: "string",
    arg: "STEP:INDEX[@EPOCH]",
    help: `stop the machine at one persistence step (${STEPS.join(", ")})`,
  },
  "fault-injection": {
    type: "boolean",
    default: false,
    help: "open the command port and accept `inject TARGET FAULT [SEED]`",
  },
  commands: {
    type: "boolean",
    default: false,
    help: "read commands on stdin (`checkpoint-ms N`)",
  },
  "shell-control": {
    type: "boolean",
    default: false,
    help:
      "give the shell the monitor's CONTROL right at a fresh boot: its checkpoint, crash, inject and powerfail",
  },
  "report-ms": {
    type: "string",
    default: "0",
    arg: "N",
    help: "print the system report (a `report` line) every N ms, 10…3600000; 0: never",
  },
  "handler-budget-ms": {
    type: "string",
    default: String(HANDLER_BUDGET_MS),
    arg: "N",
    help: "watchdog: longest one run of handlers may take, 50…600000",
  },
  policy: {
    type: "string",
    default: "",
    arg: "NAME=POLICY,...",
    help: `restart policy per component, overriding init's (${RESTART_POLICIES.join(", ")})`,
  },
  "net-link": {
    type: "string",
    arg: "PATH",
    help: "the switch's Unix socket: the NIC connects to it (the supervisor's --net sets it)",
  },
  "console-start": {
    type: "string",
    default: "0",
    arg: "N",
    help: "a test hook: new console rings start at byte offset N (offsets past 2^31 and 2^32)",
  },
} as const satisfies FlagTable;

/** Parses machine flags; throws a message naming the bad flag. */
export function parseMachineArgs(argv: string[]): BoardConfig {
  const { values } = parseArgs({ args: argv, options: MACHINE_FLAGS, strict: true });
  const imageMb = Number(values["image-mb"]);
  if (!Number.isInteger(imageMb) || imageMb < 8 || imageMb > 16384) {
    throw new Error(`--image-mb must be an integer in 8…16384, got ${values["image-mb"]}`);
  }
  const large = imageMb * 1024 * 1024 >= IMAGE_BYTES_DEFAULT;
  const fsDataPages = mbPages(values["fs-mb"]!, "--fs-mb", 1, 4096) ??
    (large ? FS_MB_DEFAULT * MB_PAGES : FS_SMALL_IMAGE_PAGES);
  const fsMetaPages = mbPages(values["fs-meta-mb"]!, "--fs-meta-mb", 0, 256) ??
    (large ? 0 : FS_SMALL_IMAGE_PAGES);
  const fsClientBlocks = Number(values["fs-client-blocks"]);
  if (!Number.isSafeInteger(fsClientBlocks) || fsClientBlocks < 0) {
    throw new Error(
      `--fs-client-blocks must be a non-negative integer, got ${values["fs-client-blocks"]}`,
    );
  }
  const checkpointMs = parseCheckpointMs(values["checkpoint-ms"]);
  const copyMethod = values["copy-method"] as CopyMethod;
  if (!COPY_METHODS.includes(copyMethod)) {
    throw new Error(`--copy-method must be one of ${COPY_METHODS.join(", ")}, got ${copyMethod}`);
  }
  const groupCommit = values["group-commit"];
  if (groupCommit !== "on" && groupCommit !== "off") {
    throw new Error(`--group-commit must be on or off, got ${groupCommit}`);
  }
  return {
    imagePath: values.image!,
    imageBytes: imageMb * 1024 * 1024,
    fresh: values.fresh!,
    checkpointMs,
    groupCommit: groupCommit === "on",
    copyMethod,
    apps: values.apps ? values.apps.split(",").filter((a) => a.length > 0) : [],
    fsync: values.fsync!,
    debugBarrier: values["debug-barrier"]!,
    reportCheckpoints: values["report-checkpoints"]!,
    digest: values.digest!,
    powerFail: values["power-fail"] ? parsePowerFail(values["power-fail"]) : undefined,
    faultInjection: values["fault-injection"]!,
    commands: values.commands!,
    shellControl: values["shell-control"]!,
    reportMs: parseReportMs(values["report-ms"]!),
    handlerBudgetMs: parseHandlerBudget(values["handler-budget-ms"]!),
    policies: parsePolicies(values.policy!),
    consoleStart: parseConsoleStart(values["console-start"]!),
    netLink: values["net-link"],
    fsDataPages,
    fsMetaPages,
    fsClientBlocks,
  };
}

/** Pages in a MiB. */
const MB_PAGES = 256;

/** A MiB flag's pages, checked to be an integer in `min`…`max` MiB; undefined when not given. */
function mbPages(text: string, flag: string, min: number, max: number): number | undefined {
  if (text === "") return undefined;
  const mb = Number(text);
  if (!Number.isInteger(mb) || mb < min || mb > max) {
    throw new Error(`${flag} must be an integer in ${min}…${max}, got ${text}`);
  }
  return mb * MB_PAGES;
}

function parseHandlerBudget(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 50 || ms > 600_000) {
    throw new Error(`--handler-budget-ms must be an integer in 50…600000, got ${text}`);
  }
  return ms;
}

/** Shortest --report-ms: a report a tick would load the kernel's core. */
const REPORT_MS_MIN = 10;

function parseReportMs(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || (ms !== 0 && (ms < REPORT_MS_MIN || ms > 3_600_000))) {
    throw new Error(`--report-ms must be 0 or an integer in ${REPORT_MS_MIN}…3600000, got ${text}`);
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

/**
 * "data-torn:3@5" → tear the 4th data write of checkpoint 5 (epoch defaults
 * to 1). STEP is a write kind (data, header, superblock) and a fault
 * (before, torn, lost, after, eio: hw/nvm_image.ts WriteFault).
 */
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
