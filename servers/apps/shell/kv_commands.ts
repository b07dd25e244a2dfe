/**
 * The shell's `kv` command: the kv store's commands over IPC
 * (servers/apps/kv/protocol.ts), for a shell started beside the store
 * (`--apps kv,shell`: init gives the shell a "kv" capability when the store
 * runs). `kv get KEY`, `kv set KEY VALUE`, `kv del KEY...`, and any other
 * command as `kv CMD ARG...`; the reply is shown as redis-cli shows it
 * (`OK`, `(nil)`, `(integer) 1`, `"value"`, numbered array items), and a
 * command's own error (`-ERR …`) is the error status `ERESP`.
 *
 * Map of this file:
 * - {@link KvApi}, {@link kvOf}: the store's calls, through the capability.
 * - {@link KV_USAGE}, {@link KvCommands}: the command.
 * - {@link formatResp}: a RESP2 reply as lines.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../kernel/abi/errors.ts";
import { KvClient } from "../kv/protocol.ts";
import { parseReply, type Reply as RespReply } from "../kv/resp_reply.ts";
import { lastingConnection } from "../../runtime/service.ts";
import type { Context } from "../../runtime/program.ts";
import { type Reply, UsageError } from "./session.ts";

/** The kv store's calls, as the `kv` command uses them. */
export interface KvApi {
  /** Runs one command; its RESP2 reply. */
  command(argv: string[]): Promise<Uint8Array>;
}

/** The name of the kv store's capability (the app's name in servers/init/config.ts). */
const KV_CAP = "kv";

/**
 * The kv store of the program of `ctx`, through its "kv" capability,
 * connected at the first call (and kept across resumes). Without the
 * capability each call is E_NOT_FOUND, saying how to start the store.
 */
export function kvOf(ctx: Context): KvApi {
  let client: KvClient | undefined;
  return {
    async command(argv) {
      if (ctx.names.get(KV_CAP) === undefined) {
        throw new TardigradeError(
          Err.E_NOT_FOUND,
          "no kv store runs beside this shell; boot with --apps kv,shell",
        );
      }
      client ??= new KvClient(await lastingConnection(ctx, KV_CAP));
      return await client.command(argv);
    },
  };
}

/** The command's one-line usage. */
export const KV_USAGE = "kv get KEY | kv set KEY VALUE | kv del KEY... | kv CMD ARG...";

/** The `kv` command over one store. */
export class KvCommands {
  constructor(private readonly kv: KvApi) {}

  /** Runs `kv` with `args`, filling `out`; bad usage throws UsageError. */
  async run(args: string[], out: Reply): Promise<void> {
    const [sub = "", ...rest] = args;
    const arity = { get: [1, 1], set: [2, 2], del: [1, Infinity] }[sub.toLowerCase()];
    if (sub === "" || (arity && (rest.length < arity[0] || rest.length > arity[1]))) {
      throw new UsageError(`usage: ${KV_USAGE}`);
    }
    let reply: Uint8Array;
    try {
      reply = await this.kv.command(args);
    } catch (e) {
      if (!(e instanceof TardigradeError)) throw e;
      return out.error(e.codeName, e.message.replace(`${e.codeName}: `, ""));
    }
    const { lines, error } = formatResp(reply);
    if (error !== undefined) return out.error("ERESP", error);
    for (const l of lines) out.line(l);
    out.ok();
  }
}

const decoder = new TextDecoder();

/**
 * A RESP2 reply as redis-cli prints it: lines, or the error's text. A
 * reply that does not parse is shown as its raw text (it never comes from
 * the store).
 */
export function formatResp(reply: Uint8Array): { lines: string[]; error?: string } {
  let parsed: RespReply | undefined;
  try {
    parsed = parseReply(reply, 0)?.reply;
  } catch { /* shown raw below */ }
  if (parsed === undefined) return { lines: [decoder.decode(reply)] };
  if (parsed.t === "-") return { lines: [], error: parsed.text };
  const lines: string[] = [];
  const show = (r: RespReply, lead: string, item: string): void => {
    const push = (text: string) => void lines.push(lead + item + text);
    switch (r.t) {
      case "+":
        return push(r.text);
      case "-":
        return push(`(error) ${r.text}`);
      case ":":
        return push(`(integer) ${r.text}`);
      case "$":
        return push(r.bulk === null ? "(nil)" : JSON.stringify(decoder.decode(r.bulk)));
      case "*":
        if (r.items === null) return push("(nil)");
        if (r.items.length === 0) return push("(empty array)");
        r.items.forEach((x, i) =>
          show(x, i === 0 ? lead + item : lead + " ".repeat(item.length), `${i + 1}) `)
        );
    }
  };
  show(parsed, "", "");
  return { lines };
}
