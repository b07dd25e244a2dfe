/**
 * Every limit of the system in one place (xv6's param.h), units last.
 * Each constant is checked against the others when this module loads.
 *
 * @module
 */

import { assert } from "./errors.ts";

/** Bytes in a page of a memory object and of the NVM image. */
export const PAGE_BYTES = 4096;
/** Bytes in a huge frame (LLFree's 2 MiB area: 512 pages). */
export const HUGE_FRAME_BYTES = 2 * 1024 * 1024;
/** Pages in a huge frame. */
export const HUGE_FRAME_PAGES = HUGE_FRAME_BYTES / PAGE_BYTES;

/** Capability slots in one cap group's table. */
export const CAP_SLOTS_MAX = 8192;
/** Pages in one memory object (256 MiB). */
export const PMO_PAGES_MAX = 65536;

/** Bytes of payload one IPC message may carry; larger data goes through a shared PMO. */
export const MESSAGE_PAYLOAD_BYTES_MAX = 1008;
/** Bytes of a message header in a ring slot: length, label, tag, status. */
export const MESSAGE_HEADER_BYTES = 16;
/** Bytes of one ring slot: header plus the largest payload. */
export const RING_SLOT_BYTES = MESSAGE_HEADER_BYTES + MESSAGE_PAYLOAD_BYTES_MAX;
/** Slots in each direction of a connection (a power of two). */
export const RING_SLOTS = 64;
/** Connections one endpoint may have open at once. */
export const ENDPOINT_CONNECTIONS_MAX = 256;
/** Connections one cap group may have open to one endpoint (so no client takes them all). */
export const CLIENT_CONNECTIONS_MAX = 16;
/** Kernel records (objects and capabilities) a new cap group may use unless its creator says. */
export const GROUP_OBJECTS_DEFAULT = 256;
/** Largest badge a capability may be minted with (badges are positive int32). */
export const BADGE_MAX = 0x7fffffff;

/** Bytes of one record slot in the kernel memory object: a u32 length, then JSON. */
export const RECORD_BYTES = 384;
/** Room a record keeps for its numbers to grow (usage counters): a new record must leave it free. */
export const RECORD_GROWTH_BYTES = 16;
/** Kernel objects of all kinds (ids 1 … RECORDS_MAX-1; id 0 means "none"). */
export const RECORDS_MAX = 16384;
/** Records the root task may not use: kept for the kernel's own objects. */
export const KERNEL_RECORDS_RESERVED = 1024;

/** Iterations a waiter spins on its doorbell before it sleeps in Atomics.wait. */
export const SPIN_ITERATIONS = 20000;
/**
 * Iterations an idle program loop spins on its doorbell before it sleeps: a guess that work
 * comes soon, kept short because on two cores a spinning worker takes the core the work it
 * waits for needs (at 20,000, the driver and the kv store each spent a third of their CPU here,
 * and kv SET with checkpoints off ran 8.7k rps at `-c 50` against 13k at 500).
 */
export const IDLE_SPIN_ITERATIONS = 500;
/** Longest single sleep of a waiting worker, so it re-checks its state now and then. */
export const WAIT_SLICE_MS = 50;

/** Period of the timer IRQ (hw/timer.ts): the time base of checkpoints and IRQ objects. */
export const TIMER_TICK_MS = 1;
/**
 * A period of P ms has elapsed once P − TICK_SLACK_MS ms have passed: ticks
 * jitter around their 1 ms grid, and a tick 0.99 ms after the last must not
 * turn a 1 ms period into 2 ms.
 */
export const TICK_SLACK_MS = TIMER_TICK_MS / 2;

/** True when a period of `periodMs` that last fired at `lastMs` is due at `nowMs` (see TICK_SLACK_MS). */
export function periodElapsed(nowMs: number, lastMs: number, periodMs: number): boolean {
  return nowMs - lastMs >= periodMs - TICK_SLACK_MS;
}

/** Longest checkpoint period `--checkpoint-ms` and the `checkpoint-ms` command accept. */
export const CHECKPOINT_PERIOD_MS_MAX = 60_000;
/** Default checkpoint period. 0 turns checkpoints off. */
export const CHECKPOINT_PERIOD_MS_DEFAULT = 1;
/** Longest the kernel waits for every worker to park before it skips a checkpoint. */
export const FREEZE_BUDGET_MS = 20;
/**
 * The freeze spins this long for the workers to park, then sleeps until the
 * first one still running parks (kernel/freeze.ts). Short: on two cores a
 * longer spin took the core the step it waited for needed.
 */
export const FREEZE_SPIN_MS = 0.02;
/** The longest sleep of the freeze once it has spun FREEZE_SPIN_MS (a parking worker wakes it). */
export const FREEZE_SLICE_MS = 0.02;
/** Checkpoints in a row whose capture threw before the kernel halts (E_CHECKPOINT_FAILED). */
export const CHECKPOINT_FAILURES_MAX = 8;
/** Longest wait between two freeze attempts while a worker keeps missing them. */
export const FREEZE_BACKOFF_MS_MAX = 64;
/** Longest one run of handlers may take before the watchdog restarts the worker. */
export const HANDLER_BUDGET_MS = 2000;
/** Longest period a timer IRQ binding may have (one hour). */
export const IRQ_PERIOD_MS_MAX = 3_600_000;

/** Failures in a row (each soon after the thread became ready) before the kernel gives up on it. */
export const RESTART_FAILURES_MAX = 8;
/** A thread that ran this long after becoming ready starts a new count of failures in a row. */
export const RESTART_STABLE_MS = 500;
/** A thread's start-up (`main`) may take this many handler budgets, and at least START_BUDGET_MS_MIN. */
export const START_BUDGET_FACTOR = 4;
/** The least time a thread's start-up may take before the watchdog stops it. */
export const START_BUDGET_MS_MIN = 5000;
/** A ready worker silent (no heartbeat) for 2 handler budgets, and at least this, has exited. */
export const SILENT_BUDGET_MS_MIN = 1000;

/** Bytes of console output a thread may have outstanding (not yet released). */
export const CONSOLE_RING_BYTES = 64 * 1024;
/**
 * Longest keyboard line the console input device takes, in UTF-8 bytes
 * (its newline not counted); a longer one is refused whole (E_LIMIT).
 */
export const CONSOLE_INPUT_LINE_BYTES_MAX = 1024;
/** Bytes of the console input device's ring: typed lines the program has not consumed yet. */
export const CONSOLE_INPUT_RING_BYTES = 16 * 1024;

/** Default NVM image size. */
export const IMAGE_BYTES_DEFAULT = 64 * 1024 * 1024;
/**
 * MiB of file data the FS server makes at a fresh boot on an image of
 * IMAGE_BYTES_DEFAULT or more unless `--fs-mb` says otherwise: that image
 * still holds every server and the kv store.
 */
export const FS_MB_DEFAULT = 16;
/**
 * Pages of FS data, and of FS metadata, on an image smaller than
 * IMAGE_BYTES_DEFAULT unless the flags say otherwise (on a larger one the
 * metadata is what the storage recommends for the data, `fsMetaPagesFor`): the 16 MiB image has room for no more beside the
 * memory server.
 */
export const FS_SMALL_IMAGE_PAGES = 16;
/** Default NVM image path, relative to the current directory. */
export const IMAGE_PATH_DEFAULT = "tardigrade.img";

assert((RING_SLOTS & (RING_SLOTS - 1)) === 0, "limits", "RING_SLOTS must be a power of two");
assert(RING_SLOT_BYTES % 16 === 0, "limits", "RING_SLOT_BYTES must be 16-byte aligned");
assert(HUGE_FRAME_BYTES % PAGE_BYTES === 0, "limits", "huge frame must be whole pages");
assert(CONSOLE_RING_BYTES % PAGE_BYTES === 0, "limits", "console ring must be whole pages");
assert(
  CONSOLE_INPUT_RING_BYTES % PAGE_BYTES === 0 &&
    CONSOLE_INPUT_RING_BYTES > 4 * (CONSOLE_INPUT_LINE_BYTES_MAX + 1),
  "limits",
  "the console input ring must be whole pages and hold a few of the longest lines",
);
assert(
  (RECORDS_MAX * RECORD_BYTES) % PAGE_BYTES === 0,
  "limits",
  "the kernel memory object (RECORDS_MAX slots of RECORD_BYTES) must be whole pages",
);
assert(RECORD_GROWTH_BYTES < RECORD_BYTES - 4, "limits", "RECORD_GROWTH_BYTES must fit a record");
assert(KERNEL_RECORDS_RESERVED < RECORDS_MAX, "limits", "the kernel's reserve must leave records");
