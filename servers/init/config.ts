/**
 * Init's configuration: which servers to start, what each may call, and its
 * restart policy. A server's cap group gets, by slot:
 * 0 its own cap group, 1 its own thread, 2 its service endpoint (RECEIVE),
 * 3… a badged CALL capability to each service in `needs`, in order.
 *
 * @module
 */

import type { RestartPolicy } from "../../kernel/abi/protocol.ts";

/** One server init starts. */
export interface ServiceConfig {
  name: string;
  program: string;
  quotaPages: number;
  policy: RestartPolicy;
  /** Services this one may call (each a CALL capability, badged with the caller's name index). */
  needs: string[];
}

/** The servers, in start order. */
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
    quotaPages: 256,
    policy: "fresh",
    needs: ["memory"],
  },
  { name: "net", program: "servers/net/main.ts", quotaPages: 64, policy: "fresh", needs: [] },
];

/** Slot of a server's own endpoint in its cap group. */
export const SERVICE_SLOT = 2;
/** First slot of the CALL capabilities a component receives for the services it needs. */
export const NEEDS_FIRST_SLOT = 3;

/**
 * Apps init can start (`--apps NAME,...`): program and needs. A name that is
 * a path under tests/programs/ starts that program with CALL capabilities to
 * every service (slots 3, 4, 5: memory, fs, net) and a 10 ms timer (slot 2).
 */
export const APPS: Record<string, { program: string; needs: string[]; timerMs?: number }> = {
  counter: { program: "servers/apps/counter.ts", needs: [], timerMs: 20 },
  writer: { program: "servers/apps/writer.ts", needs: [], timerMs: 1 },
  ledger: { program: "servers/apps/ledger.ts", needs: ["memory", "fs", "net"], timerMs: 10 },
};

/** Pages each app may use. */
export const APP_QUOTA_PAGES = 2048;
/** Kernel records each app may use, unless a program app asks with `quotaObjects=N`. */
export const APP_QUOTA_OBJECTS = 512;
/** Slot of an app's timer notification. */
export const APP_TIMER_SLOT = 2;
