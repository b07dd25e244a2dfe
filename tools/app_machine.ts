/**
 * A machine serving one network app (servers/init/config.ts APPS: echo,
 * kv, …) on a free port of 127.0.0.1 behind its own switch: what the net
 * and kv scenarios, their tests and the benches start. The switch outlives
 * {@link AppMachine.crash}; the machine resumes from the same image at
 * {@link AppMachine.resume}.
 *
 * @example
 * ```ts
 * const m = await AppMachine.start("kv", { extra: ["--checkpoint-ms", "5"] });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: m.port });
 * ```
 *
 * @module
 */

import { freePort } from "./echo_client.ts";
import { MachineProcess } from "./machine_process.ts";
import { SwitchProcess } from "./net_process.ts";
import { removeImage, tempImage } from "./temp_image.ts";

/** How {@link AppMachine.start} boots. */
export interface AppMachineOptions {
  /** More machine flags (e.g. `--checkpoint-ms 5`, `--fault-injection`). */
  extra?: string[];
  /** More app arguments besides `port` (init passes the spec's query as args). */
  appArgs?: Record<string, string | number>;
  /** Name part of the temporary image (default: the app's name). */
  label?: string;
}

/** A switch, and the machine behind it running one app on {@link AppMachine.port}. */
export class AppMachine {
  private constructor(
    readonly app: string,
    readonly image: string,
    public sw: SwitchProcess,
    readonly port: number,
    private readonly args: string[],
    public machine: MachineProcess,
  ) {}

  /**
   * Formats an image, starts a switch on it and a machine with `app` on a
   * free port (`app?port=N&…appArgs`); resolves once the port is reachable;
   * if it never is, stops both and rejects.
   */
  static async start(app: string, opts: AppMachineOptions = {}): Promise<AppMachine> {
    const image = tempImage(opts.label ?? app);
    const sw = await SwitchProcess.start(`${image}.link`);
    const port = freePort();
    const query = new URLSearchParams({ port: String(port) });
    for (const [k, v] of Object.entries(opts.appArgs ?? {})) query.set(k, String(v));
    const args = ["--apps", `${app}?${query}`, "--net-link", sw.linkPath, ...(opts.extra ?? [])];
    const m = MachineProcess.start(image, ["--fresh", ...args]);
    const am = new AppMachine(app, image, sw, port, args, m);
    try {
      await m.ready();
      await sw.waitFor((l) => l.t === "listening" && l.port === port);
    } catch (e) {
      // An app that never listens must not leave its machine and switch running.
      await am.stop();
      throw e;
    }
    return am;
  }

  /** SIGKILLs the machine process (the switch and the clients stay). */
  crash(): Promise<void> {
    return this.machine.kill();
  }

  /** Starts the machine again on the image; resolves when it is ready. */
  async resume(): Promise<void> {
    this.machine = MachineProcess.start(this.image, this.args);
    await this.machine.ready();
  }

  /**
   * Kills the switch (its clients' connections end with it) and starts a
   * new one on the same link; the machine's NIC links to it again.
   */
  async replaceSwitch(): Promise<void> {
    const link = this.sw.linkPath;
    await this.sw.stop();
    this.sw = await SwitchProcess.start(link);
  }

  /** Stops machine and switch and removes the image. */
  async stop(): Promise<void> {
    await this.machine.kill();
    await this.sw.stop();
    removeImage(this.image);
  }
}
