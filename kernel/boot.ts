/**
 * Boot and resume, and the dormancy of restored servers.
 *
 * Map of this file:
 * - {@link bootFresh}: the root cap group "init" with its thread, the timer
 *   IRQ, the NIC's PMOs and IRQ (kernel/nic.ts), the system monitor
 *   (kernel/objects/monitor.ts) and its first capabilities.
 * - {@link resume}: rebuild the caches from the restored records, then start
 *   a worker per thread; a server stays dormant until it has work.
 * - {@link Dormancy}: restored servers not started yet, their doorbells (the
 *   ones their peers ring), and what wakes them: a doorbell ring (checked
 *   every tick), a signal, an event, or work found waiting at resume.
 *
 * @module
 */

import { DOORBELL_BYTES, DoorbellWord, type PmoBuffers } from "./abi/layout.ts";
import { KERNEL_RECORDS_RESERVED, RECORDS_MAX } from "./abi/limits.ts";
import { INIT_PROGRAM } from "./abi/protocol.ts";
import { RIGHTS_ALL } from "./abi/rights.ts";
import {
  INIT_CONSOLE_IN_IRQ_SLOT,
  INIT_CONSOLE_IN_SLOT,
  INIT_MONITOR_SLOT,
  INIT_NIC_IRQ_SLOT,
  INIT_NIC_RX_SLOT,
  INIT_NIC_TX_SLOT,
  INIT_TIMER_IRQ_SLOT,
} from "./abi/slots.ts";
import { createMonitor } from "./objects/monitor.ts";
import type { ConsoleRegisters } from "./consoles.ts";
import { digestState } from "./digest.ts";
import { createCapGroup } from "./objects/cap_group.ts";
import { requestsWaiting, servesEndpoint } from "./objects/endpoint.ts";
import { createConsoleInIrq, createNicIrq, createTimerIrq } from "./objects/irq.ts";
import { signalPending } from "./objects/notification.ts";
import { ObjKind, type ThreadRecord } from "./objects/records.ts";
import { createThread } from "./objects/thread.ts";
import type { KernelServices } from "./services.ts";
import type { NicDevice } from "./nic.ts";
import type { ConsoleInDevice } from "./console_in.ts";

/** What boot and resume need besides the kernel services. */
export interface BootHost extends KernelServices {
  /** The kernel memory object (resume digests it). */
  readonly kernelPmo: PmoBuffers;
  readonly dormancy: Dormancy;
  /** The NIC's transmit ring: made at a fresh boot, handed to the board again at resume. */
  readonly nic: NicDevice;
  /** The console input device: made at a fresh boot, attached again at resume. */
  readonly consoleIn: ConsoleInDevice;
}

/** Fresh boot: the root cap group "init" with its thread and first capabilities. */
export async function bootFresh(k: BootHost): Promise<void> {
  // The root task may use every kernel record but a reserve for the kernel's own.
  const quotaObjects = RECORDS_MAX - KERNEL_RECORDS_RESERVED;
  const group = createCapGroup(k, "init", k.config.nvmPages, quotaObjects, 0);
  k.caps.insertOriginal(group, group, RIGHTS_ALL, 0);
  const timer = createTimerIrq(k);
  const thread = createThread(
    k,
    group,
    INIT_PROGRAM,
    {
      apps: k.config.apps,
      policies: k.config.policies,
      fs: k.config.fs,
      shellControl: k.config.shellControl,
    },
    "none",
    group,
  );
  k.caps.insertOriginal(group, thread.id, RIGHTS_ALL, 1);
  k.caps.insertOriginal(group, timer.id, RIGHTS_ALL, INIT_TIMER_IRQ_SLOT);
  const nic = await k.nic.create(k.pmos, group);
  k.caps.insertOriginal(group, nic.tx.id, RIGHTS_ALL, INIT_NIC_TX_SLOT);
  k.caps.insertOriginal(group, nic.rx.id, RIGHTS_ALL, INIT_NIC_RX_SLOT);
  k.caps.insertOriginal(group, createNicIrq(k).id, RIGHTS_ALL, INIT_NIC_IRQ_SLOT);
  k.caps.insertOriginal(group, createMonitor(k).id, RIGHTS_ALL, INIT_MONITOR_SLOT);
  const consoleIn = await k.consoleIn.create(k.pmos, group);
  k.caps.insertOriginal(group, consoleIn.id, RIGHTS_ALL, INIT_CONSOLE_IN_SLOT);
  k.caps.insertOriginal(group, createConsoleInIrq(k).id, RIGHTS_ALL, INIT_CONSOLE_IN_IRQ_SLOT);
  return k.spawn(thread, false);
}

/** Resume: rebuild caches from the loaded records, then start a worker per thread. */
export async function resume(k: BootHost): Promise<void> {
  k.caps.rebuild();
  const pmos = [...k.table.ofKind(ObjKind.PMO)];
  for (const pmo of pmos) k.pmos.adopt(pmo);
  await k.nic.resume(k.table, k.pmos);
  await k.consoleIn.resume(k.table, k.pmos);
  if (k.config.digest) {
    const all = await Promise.all(
      pmos.map(async (p) => [p.id, await k.pmos.ensureLoaded(p.id)] as [number, PmoBuffers]),
    );
    const epoch = k.checkpoints.committedEpoch;
    k.post({ t: "digest", epoch, digest: digestState(k.kernelPmo, all) });
  }
  // A server (a thread serving an endpoint) stays dormant until its doorbell rings or it is
  // signalled; the others start at once, in parallel. Servers that had requests waiting in
  // their rings at the checkpoint are woken right after, without holding up the others
  // (finding out means loading their connections' memory).
  const now: ThreadRecord[] = [];
  for (const t of [...k.table.ofKind(ObjKind.THREAD)]) {
    if (t.program !== INIT_PROGRAM && servesEndpoint(k, t.id)) k.dormancy.add(t);
    else now.push(t);
  }
  await Promise.all(now.map((t) => k.spawn(t, true)));
  k.dormancy.wakeThoseWithWork();
  k.dormancy.resendConsoles();
}

/** A restored thread not started yet. */
interface Dormant {
  rec: ThreadRecord;
  /** The doorbell its peers are given, and ring; the worker gets it when woken. */
  doorbell: SharedArrayBuffer;
  /** True from the wake until its worker is registered. */
  waking: boolean;
}

/** Threads restored but not started: they start on their first doorbell ring or signal. */
export class Dormancy {
  private readonly dormant = new Map<number, Dormant>();

  constructor(private readonly k: KernelServices, private readonly consoles: ConsoleRegisters) {}

  /** Keeps restored thread `rec` dormant, with a fresh doorbell. */
  add(rec: ThreadRecord): void {
    this.dormant.set(rec.id, {
      rec,
      doorbell: new SharedArrayBuffer(DOORBELL_BYTES),
      waking: false,
    });
  }

  /** True while thread `threadId` is dormant (until its woken worker is registered). */
  has(threadId: number): boolean {
    return this.dormant.has(threadId);
  }

  /** Starts a dormant thread (its doorbell rang, it was signalled, or an event is for it). */
  wake(threadId: number): void {
    const d = this.dormant.get(threadId);
    if (!d || d.waking) return;
    d.waking = true; // its doorbell stays the one peers hold until the worker is registered
    this.k.log(`kernel: thread ${threadId} (${d.rec.program}) woken from dormancy`);
    this.k.spawn(d.rec, true, d.doorbell).then(() => this.dormant.delete(threadId));
  }

  /** The doorbell to give a peer of `threadId`: its own, a dormant one's, or a fresh one. */
  doorbellOf(threadId: number): SharedArrayBuffer {
    const live = this.k.threads.get(threadId);
    if (live && !live.dead) return live.doorbell;
    return this.dormant.get(threadId)?.doorbell ?? new SharedArrayBuffer(DOORBELL_BYTES);
  }

  /** Each tick: wakes every dormant thread whose doorbell a peer rang. */
  wakeRung(): void {
    for (const [id, d] of this.dormant) {
      if (!d.waking && Atomics.load(new Int32Array(d.doorbell), DoorbellWord.RING) !== 0) {
        this.wake(id);
      }
    }
  }

  /** Wakes every dormant server that has requests waiting or a signal pending. */
  wakeThoseWithWork(): void {
    for (const [id] of this.dormant) {
      this.hasPendingWork(id).then((pending) => pending && this.wake(id)).catch((e) =>
        this.k.log(`kernel: cannot tell whether thread ${id} has work: ${(e as Error).message}`)
      );
    }
  }

  /** True when requests wait in a ring the thread serves, or a signal in its notification. */
  private async hasPendingWork(threadId: number): Promise<boolean> {
    const found = await Promise.all([
      requestsWaiting(this.k, threadId),
      signalPending(this.k, threadId),
    ]);
    return found.some((pending) => pending);
  }

  /**
   * A dormant server may have printed text that its last checkpoint holds
   * but the board had not released before the crash: its console is handed
   * over now, so that text goes out even if the server is never woken.
   */
  resendConsoles(): void {
    for (const [id, d] of this.dormant) {
      this.k.pmos.ensureLoaded(d.rec.consolePmo).then((ring) => {
        if (this.consoles.has(id)) return; // woken meanwhile: its spawn sent it
        const group = this.k.table.expect(d.rec.group, ObjKind.CAP_GROUP);
        this.consoles.attach(d.rec, ring, true, group.name);
      }).catch((e) =>
        this.k.log(`kernel: cannot send thread ${id}'s console: ${(e as Error).message}`)
      );
    }
  }
}
