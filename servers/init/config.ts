/**
 * Init's configuration: which servers to start, what each may call, its
 * quotas and its restart policy; and the apps `--apps` can start. Adding a
 * server is one entry in {@link SERVICES} plus its folder (docs/
 * ARCHITECTURE.md "Add a server").
 *
 * Every component gets its capabilities by name (servers/init/spawn.ts):
 * a server its own endpoint as "service", an app its timer as "timer", and
 * each needed service under that service's name: a badged CALL capability
 * (the badge is the caller's start index). Slot numbers are init's business
 * alone; a program asks `ctx.cap("fs")`.
 *
 * @module
 */

import type { RestartPolicy } from "../../kernel/abi/protocol.ts";
import { FS_MB_DEFAULT, PMO_PAGES_MAX } from "../../kernel/abi/limits.ts";
import { fsMetaPagesFor } from "../fs/store/mod.ts";

/** One server init starts. */
export interface ServiceConfig {
  name: string;
  program: string;
  quotaPages: number;
  /** Kernel records the server may use (the kernel's default when absent). */
  quotaObjects?: number;
  policy: RestartPolicy;
  /** Services this one may call (each a CALL capability under the service's name). */
  needs: string[];
  /** Started only when `--apps` names it (before the apps), e.g. the example server. */
  optional?: boolean;
  /** Gets the NIC's transmit ring, receive PMO and IRQ as "nic", "nic-rx", "nic-irq" (the network driver). */
  nic?: boolean;
  /** Its start arguments, from init's own (the machine's flags); none when absent. */
  args?: (initArgs: Record<string, unknown>) => Record<string, unknown>;
  /** Pages it may use, from its start arguments, when they decide ({@link quotaPages} otherwise). */
  quotaFor?: (args: Record<string, unknown>) => number;
}

/** The servers, in start order (a server starts after every service it needs). */
export const SERVICES: ServiceConfig[] = [
  {
    name: "memory",
    program: "servers/memory/main.ts",
    quotaPages: 2176,
    policy: "fresh",
    needs: [],
  },
  {
    name: "fs",
    program: "servers/fs/main.ts",
    quotaPages: 0,
    policy: "fresh",
    needs: [],
    // `--fs-mb` and `--fs-client-blocks`, as the kernel handed them to init.
    args: (initArgs) => ({ ...fsArgs(initArgs.fs) }),
    // Its data segments, the metadata heap the storage wants for them, and the program's pages.
    quotaFor: (args) => {
      const a = fsArgs(args);
      const { segments, segmentPages } = fsSegments(a.dataPages);
      return segments * segmentPages + fsMetaPages(a) + FS_PROGRAM_PAGES;
    },
  },
  {
    name: "net",
    program: "servers/net/main.ts",
    // The inbound windows (128 × 4 KiB = 128 pages: a 16 MiB image still holds every server), its socket records, the thread.
    quotaPages: 192,
    policy: "fresh",
    needs: [],
    nic: true,
  },
  {
    name: "example",
    program: "servers/example/main.ts",
    quotaPages: 32,
    quotaObjects: 64,
    policy: "fresh",
    needs: [],
    optional: true,
  },
];

/** An app init can start by name. */
export interface AppConfig {
  program: string;
  /**
   * Services it may call (and `monitor`: the system monitor, kernel/objects/
   * monitor.ts); a program app (a path) may call every service started.
   */
  needs: string[];
  /** Services it calls when they run (`--apps` started them), e.g. the shell's `kv`; none when absent. */
  wants?: string[];
  /**
   * True: it also serves an endpoint ("service") under its own name, which
   * the apps after it may need or want (init starts such apps first).
   */
  serves?: boolean;
  /** Period of its timer notification ("timer"); none when absent. */
  timerMs?: number;
  /** Gets the console input device's PMO and IRQ as "console-in", "console-in-irq" (one app at most). */
  console?: boolean;
  /** Pages it may use, from its arguments, when it needs other than {@link APP_QUOTA_PAGES}. */
  quotaPages?: (args: Record<string, unknown>) => number;
}

/**
 * Apps init can start (`--apps NAME,...`). A name that is a path under
 * tests/programs/ or servers/apps/ starts that program with CALL
 * capabilities to every service started and a 10 ms timer.
 */
export const APPS: Record<string, AppConfig> = {
  counter: { program: "servers/apps/counter.ts", needs: [], timerMs: 20 },
  writer: { program: "servers/apps/writer.ts", needs: [], timerMs: 1 },
  ledger: { program: "servers/apps/ledger.ts", needs: ["memory", "fs", "net"], timerMs: 10 },
  echo: { program: "servers/apps/echo.ts", needs: ["net"] },
  kv: {
    program: "servers/apps/kv/main.ts",
    needs: ["net"],
    // Its commands over IPC too (servers/apps/kv/protocol.ts): the shell's `kv`.
    serves: true,
    timerMs: 100,
    // Its heap (`pages=N`, KV_HEAP_PAGES_DEFAULT when absent) and its program's own pages.
    quotaPages: (args) =>
      (typeof args.pages === "number" ? args.pages : KV_HEAP_PAGES_DEFAULT) + KV_PROGRAM_PAGES,
  },
  shell: {
    program: "servers/apps/shell/main.ts",
    // "monitor": the system monitor (READ; CONTROL with --shell-control), given to the shell only.
    needs: ["net", "fs", "monitor"],
    // The kv store's commands (`kv get|set|del`) when `--apps` runs it too.
    wants: ["kv"],
    console: true,
    // Its heap (`pages=N`, SHELL_HEAP_PAGES_DEFAULT when absent) and its program's own pages.
    quotaPages: (args) =>
      (typeof args.pages === "number" ? args.pages : SHELL_HEAP_PAGES_DEFAULT) + KV_PROGRAM_PAGES,
  },
};

/** 4 KiB pages in a MiB. */
const FS_PAGES_PER_MB = 256;
/** Pages the FS server uses besides its storage (slot record, console, descriptor-buffer table). */
const FS_PROGRAM_PAGES = 64;

/**
 * The FS server's data segments for `pages` pages of data: as few as
 * PMO_PAGES_MAX allows, of one size (the storage wants them equal).
 */
export function fsSegments(pages: number): { segments: number; segmentPages: number } {
  const segments = Math.ceil(pages / PMO_PAGES_MAX);
  return { segments, segmentPages: Math.ceil(pages / segments) };
}

/** What the FS server is started with (`--fs-mb`, `--fs-meta-mb`, `--fs-client-blocks`). */
export interface FsArgs {
  /** Pages of file data. */
  dataPages: number;
  /** Pages of metadata; 0: what the storage recommends for the data (`fsMetaPagesFor`). */
  metaPages: number;
  /** Each client's quota in 4 KiB blocks; 0: none. */
  clientBlocks: number;
}

/** The FS server's arguments from init's `fs` argument, with the defaults for what is missing. */
export function fsArgs(given: unknown): FsArgs {
  const g = (typeof given === "object" && given !== null ? given : {}) as Record<string, unknown>;
  return {
    dataPages: typeof g.dataPages === "number" ? g.dataPages : FS_MB_DEFAULT * FS_PAGES_PER_MB,
    metaPages: typeof g.metaPages === "number" ? g.metaPages : 0,
    clientBlocks: typeof g.clientBlocks === "number" ? g.clientBlocks : 0,
  };
}

/** Pages of the FS server's metadata PMO for `args`. */
export function fsMetaPages(args: FsArgs): number {
  if (args.metaPages > 0) return args.metaPages;
  const { segments, segmentPages } = fsSegments(args.dataPages);
  return fsMetaPagesFor(segments * segmentPages);
}

/** Pages each app may use, unless its entry says otherwise. */
export const APP_QUOTA_PAGES = 2048;
/** Pages of the kv store's heap unless it is started with `pages=N` (16 MiB: a 64 MiB image holds it). */
export const KV_HEAP_PAGES_DEFAULT = 4096;
/** Pages the kv store uses besides its heap (slot record, console, notifications). */
const KV_PROGRAM_PAGES = 512;
/** The kv store's port when args give none. */
export const KV_PORT_DEFAULT = 6379;
/** Pages of the shell's heap (its sessions) unless it is started with `pages=N` (4 MiB). */
export const SHELL_HEAP_PAGES_DEFAULT = 1024;
/** The shell's port when args give none. */
export const SHELL_PORT_DEFAULT = 2323;
/** Kernel records each app may use, unless a program app asks with `quotaObjects=N`. */
export const APP_QUOTA_OBJECTS = 512;
/** Timer period of a program app, unless it asks with `timerMs=N`. */
export const PROGRAM_APP_TIMER_MS = 10;

/** The servers init starts for `--apps` `apps`: every one not optional, and the optional ones named. */
export function servicesFor(apps: string[]): ServiceConfig[] {
  return SERVICES.filter((s) => !s.optional || apps.includes(s.name));
}
