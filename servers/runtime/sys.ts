/**
 * System-call stubs: each call posts a SyscallRequest to the kernel and
 * resolves with its value, or rejects with the TardigradeError the kernel
 * returned (named code, message, detail).
 *
 * @module
 */

import { fromErrorValue } from "../../kernel/abi/errors.ts";
import type {
  ConnectionHandle,
  SyscallOp,
  SyscallReply,
  SyscallRequest,
} from "../../kernel/abi/protocol.ts";
import type { PmoBuffers } from "../../kernel/abi/layout.ts";
import type {
  CapInfo,
  CheckpointInfo,
  MappedPmo,
  SystemInfo,
} from "../../kernel/abi/syscall_types.ts";
import type { FaultKind, RestartPolicy } from "../../kernel/abi/protocol.ts";
import type { RecentCheckpoint, SystemReport } from "../../kernel/abi/report.ts";

/** The system calls of one worker. */
export class Sys {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; parked: boolean }
  >();
  /** Calls in {@link waiting} that do not hold a step open (`checkpoint_wait`). */
  private parkedCalls = 0;

  /**
   * `onPending` hears every change of the number of unanswered calls (the
   * program loop shows it to the kernel: ControlWord.SYSCALLS_PENDING);
   * `onMapped` every mapping `pmoMap` returns (the loop watches output rings).
   */
  constructor(
    private readonly post: (req: SyscallRequest) => void,
    private readonly onPending: (count: number) => void = () => {},
    private readonly onMapped: (m: MappedPmo) => void = () => {},
  ) {}

  /** System calls sent and not yet answered, but for those that park (`checkpoint_wait`). */
  get pending(): number {
    return this.waiting.size - this.parkedCalls;
  }

  /** Calls sent that park the worker while they wait (`checkpoint_wait`), not yet answered. */
  get parked(): number {
    return this.parkedCalls;
  }

  /** Raw call by name: for tests that send what the typed stubs would refuse. */
  raw<T = unknown>(op: SyscallOp | string, ...args: unknown[]): Promise<T> {
    return this.send<T>(op, args, false);
  }

  /**
   * Posts a call. A `parked` one does not count as pending (the kernel's
   * freeze does not wait for it, and the step awaiting it is not in flight
   * for the freeze protocol): for a call whose reply itself waits for a
   * checkpoint.
   */
  private send<T>(op: SyscallOp | string, args: unknown[], parked: boolean): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, parked });
      if (parked) this.parkedCalls++;
      this.onPending(this.pending);
      this.post({ t: "syscall", id, op: op as SyscallOp, args });
    });
  }

  /** Delivers the kernel's reply to the waiting call. */
  onReply(reply: SyscallReply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    if (w.parked) this.parkedCalls--;
    this.onPending(this.pending);
    if (reply.ok) w.resolve(reply.value);
    else w.reject(fromErrorValue(reply.error));
  }

  /** What the capability in `slot` is. */
  capInfo(slot: number): Promise<CapInfo> {
    return this.raw("cap_info", slot);
  }
  /** Every capability this cap group holds. */
  capList(): Promise<CapInfo[]> {
    return this.raw("cap_list");
  }
  /** Copies a capability (same or fewer rights) into a new slot; needs GRANT. */
  capCopy(slot: number, rights?: number, destSlot?: number): Promise<number> {
    return this.raw("cap_copy", slot, rights, destSlot);
  }
  /** Derives a badged capability with the same or fewer rights; needs GRANT. */
  capMint(slot: number, rights: number, badge: number, destSlot?: number): Promise<number> {
    return this.raw("cap_mint", slot, rights, badge, destSlot);
  }
  /** Deletes one capability. */
  capDelete(slot: number): Promise<null> {
    return this.raw("cap_delete", slot);
  }
  /** Removes every capability derived from `slot`; returns how many. */
  capRevoke(slot: number): Promise<number> {
    return this.raw("cap_revoke", slot);
  }
  /** Derives a capability into another cap group (WRITE on it, GRANT on the source). */
  capGrant(
    groupSlot: number,
    slot: number,
    rights?: number,
    badge?: number,
    destSlot?: number,
  ): Promise<number> {
    return this.raw("cap_grant", groupSlot, slot, rights, badge, destSlot);
  }
  /** Sends a capability to the server of a connection; it gets a "cap" event. */
  capTransfer(connSlot: number, slot: number, rights?: number): Promise<number> {
    return this.raw("cap_transfer", connSlot, slot, rights);
  }
  /** Creates a cap group with page and kernel-object quotas carved from the caller's. */
  capGroupCreate(name: string, quotaPages: number, quotaObjects?: number): Promise<number> {
    return this.raw("cap_group_create", name, quotaPages, quotaObjects);
  }
  /** Starts `program` (e.g. "servers/fs/main.ts") in a cap group. */
  threadCreate(
    groupSlot: number,
    program: string,
    args: Record<string, unknown> = {},
    policy: RestartPolicy = "fresh",
  ): Promise<number> {
    return this.raw("thread_create", groupSlot, program, args, policy);
  }
  /** Creates a memory object of `pages` pages, charged to this cap group. */
  pmoCreate(pages: number): Promise<number> {
    return this.raw("pmo_create", pages);
  }
  /** Maps a memory object into this worker. */
  pmoMap(slot: number, writable = true): Promise<MappedPmo> {
    return this.raw<MappedPmo>("pmo_map", slot, writable).then((m) => {
      this.onMapped(m);
      return m;
    });
  }
  /** Creates an endpoint; the caller holds every right on it. */
  endpointCreate(): Promise<number> {
    return this.raw("endpoint_create");
  }
  /** Serves an endpoint (RECEIVE); returns the number of connections offered. */
  endpointServe(slot: number): Promise<number> {
    return this.raw("endpoint_serve", slot);
  }
  /** Opens a connection to an endpoint (CALL). */
  connect(slot: number): Promise<ConnectionHandle> {
    return this.raw("connect", slot);
  }
  /** Re-obtains the buffers of a connection capability (after a resume). */
  connAttach(slot: number): Promise<ConnectionHandle> {
    return this.raw("conn_attach", slot);
  }
  /** Creates a notification. */
  notificationCreate(): Promise<number> {
    return this.raw("notification_create");
  }
  /** Binds a notification to this thread; returns its buffers. */
  notificationBind(slot: number): Promise<PmoBuffers> {
    return this.raw("notification_bind", slot);
  }
  /** Signals a notification (SEND). */
  notificationSignal(slot: number): Promise<null> {
    return this.raw("notification_signal", slot);
  }
  /** Makes an IRQ signal a notification every `periodMs`. */
  irqBind(irqSlot: number, notificationSlot: number, periodMs: number): Promise<null> {
    return this.raw("irq_bind", irqSlot, notificationSlot, periodMs);
  }
  /** Counters of the whole system. */
  systemInfo(): Promise<SystemInfo> {
    return this.raw("system_info");
  }
  /** The checkpoint period, commits since boot, the last commit's time and the last pause. */
  checkpointInfo(): Promise<CheckpointInfo> {
    return this.raw("checkpoint_info");
  }
  /**
   * Resolves with the epoch once a checkpoint cut after this call has
   * committed: everything this program saw done before the call is durable.
   * The worker parks while it waits (a step awaiting it is not in flight),
   * so call it from a handler's step, never from `main` (no checkpoint
   * starts before every program is ready).
   */
  checkpointWait(): Promise<number> {
    return this.send("checkpoint_wait", [], true);
  }
  /** The system report (READ on the monitor capability in `slot`). */
  systemReport(slot: number): Promise<SystemReport> {
    return this.raw("system_report", slot);
  }
  /**
   * Takes a checkpoint now and resolves once it committed, with its figures
   * (CONTROL). Parks like {@link checkpointWait}: call it from a step of its own.
   */
  checkpointNow(slot: number): Promise<RecentCheckpoint> {
    return this.send("checkpoint_now", [slot], true);
  }
  /** Makes component `target` commit `fault` (CONTROL; the machine runs with --fault-injection). */
  faultInject(slot: number, target: string, fault: FaultKind, seed = 1): Promise<string> {
    return this.raw("fault_inject", slot, target, fault, seed);
  }
  /**
   * Arms a power cut (CONTROL): the machine exits 137 once the checkpoint
   * that covers this call (and the step making it) has committed. Resolves
   * at once with that checkpoint's epoch.
   */
  powerCut(slot: number): Promise<number> {
    return this.raw("power_cut", slot);
  }
}
