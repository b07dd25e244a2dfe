/**
 * `deno task boot --fresh --apps APP --APP-port P --restart-on-crash` run as
 * a user runs it, for the "done when" tests (nc_test.ts, redis_cli_test.ts):
 * the supervisor's output watched line by line, the machine's pid as the
 * supervisor prints it, a `kill -9` of that pid and the resume after it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "../../tools/echo_client.ts";
import { removeImage, tempImage } from "../helpers.ts";
import { LineWatch } from "./line_watch.ts";

/** The pid in a supervisor line `[boot] machine process N`. */
function pidOf(line: string): number {
  return Number(/machine process (\d+)/.exec(line)![1]);
}

/** `deno task boot --image IMAGE --fresh --apps APP --APP-port PORT EXTRA…`, as a user types it. */
export function userBootArgs(image: string, app: string, port: number, extra: string[] = []) {
  return [
    "task",
    "boot",
    "--image",
    image,
    "--fresh",
    "--apps",
    app,
    `--${app}-port`,
    String(port),
    ...extra,
  ];
}

/** A supervisor serving one network app on a free port, with a restart on crash. */
export class UserBoot {
  private constructor(
    private readonly boot: Deno.ChildProcess,
    private readonly image: string,
    readonly port: number,
    readonly out: LineWatch,
    /** The machine process's pid, as the supervisor printed it last. */
    public machinePid: number,
  ) {}

  /** Boots fresh with `--apps app --<app>-port P`; resolves once the app listens. */
  static async start(app: string): Promise<UserBoot> {
    const image = tempImage(`${app}-boot`);
    const port = freePort();
    const boot = new Deno.Command(Deno.execPath(), {
      args: userBootArgs(image, app, port, ["--restart-on-crash"]),
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    const out = new LineWatch(boot.stdout);
    const pid = pidOf(await out.next((l) => l.includes("[boot] machine process")));
    const booted = new UserBoot(boot, image, port, out, pid);
    await out.next((l) => l.includes(`[net]  listening on 127.0.0.1:${port}`));
    return booted;
  }

  /** `kill -9` of the machine process; resolves once the supervisor has resumed it. */
  async killMachine(): Promise<void> {
    const first = this.machinePid;
    Deno.kill(first, "SIGKILL");
    this.machinePid = pidOf(await this.out.next((l) => l.includes("[boot] machine process")));
    assert.notEqual(this.machinePid, first, "a new machine process after the kill");
    await this.out.next((l) => l.includes("[boot] ready: resumed"));
  }

  /** Stops the supervisor and removes the image. */
  async stop(): Promise<void> {
    this.boot.kill("SIGTERM");
    await this.boot.status;
    removeImage(this.image);
  }
}
