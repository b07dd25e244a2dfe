/**
 * A machine serving the echo app (servers/apps/echo.ts) on a free port of
 * 127.0.0.1 behind its own switch: what the net scenario, its tests and the
 * network bench start. The switch outlives {@link EchoMachine.crash}; the
 * machine resumes from the same image at {@link EchoMachine.resume}.
 *
 * @module
 */

import { freePort } from "./echo_client.ts";
import { MachineProcess } from "./machine_process.ts";
import { SwitchProcess } from "./net_process.ts";
import { removeImage, tempImage } from "./temp_image.ts";

/** A switch, and the machine behind it running the echo app. */
export class EchoMachine {
  private constructor(
    readonly image: string,
    public sw: SwitchProcess,
    readonly port: number,
    private readonly args: string[],
    public machine: MachineProcess,
  ) {}

  /**
   * Formats an image, starts a switch on it and a machine with the echo
   * app on a free port (`extra`: more machine flags); resolves once the
   * port is reachable.
   */
  static async start(extra: string[] = [], label = "echo"): Promise<EchoMachine> {
    const image = tempImage(label);
    const sw = await SwitchProcess.start(`${image}.link`);
    const port = freePort();
    const args = [
      "--apps",
      `echo?port=${port}`,
      "--net-link",
      sw.linkPath,
      ...extra,
    ];
    const m = MachineProcess.start(image, ["--fresh", ...args]);
    const em = new EchoMachine(image, sw, port, args, m);
    await m.ready();
    await sw.waitFor((l) => l.t === "listening" && l.port === port);
    return em;
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
