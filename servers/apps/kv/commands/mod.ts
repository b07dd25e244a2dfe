/**
 * The store's command dispatcher: ONE table of every command (name,
 * arity, flags, keys, handler) built from the group modules (strings,
 * keys, hashes, lists, sets, zsets, server), and {@link Commands.execute},
 * which runs one parsed command the way Redis 7.0's processCommand does:
 * look the name up case-insensitively (subcommands of CONFIG, CLIENT,
 * COMMAND too), check the arity, refuse denyoom commands above
 * maxmemory, run the handler, and turn the keyspace's E_NO_MEMORY into
 * the same -OOM reply.
 *
 * @module
 */

import { Err, TardigradeError } from "../../../../kernel/abi/errors.ts";
import type { OutputWriter } from "../resp.ts";
import type { Host, Session } from "../session.ts";
import { assert } from "../../../../kernel/abi/errors.ts";
import {
  bytes,
  type CommandSpec,
  type Context,
  errorArg,
  foldedHash,
  isWord,
  lowerName,
  R_OOM,
} from "./context.ts";
import { STRING_COMMANDS } from "./strings.ts";
import { KEY_COMMANDS } from "./keys.ts";
import { HASH_COMMANDS } from "./hashes.ts";
import { LIST_COMMANDS } from "./lists.ts";
import { SET_COMMANDS } from "./sets.ts";
import { ZSET_COMMANDS } from "./zsets.ts";
import { fillConfigDefaults, maxMemoryOf, SERVER_COMMANDS } from "./server.ts";

export type { CommandSpec } from "./context.ts";

/** Every command the store knows, by lower-case name. */
export const COMMAND_TABLE: ReadonlyMap<string, CommandSpec> = new Map(
  [
    ...STRING_COMMANDS,
    ...KEY_COMMANDS,
    ...HASH_COMMANDS,
    ...LIST_COMMANDS,
    ...SET_COMMANDS,
    ...ZSET_COMMANDS,
    ...SERVER_COMMANDS,
  ].map((s) => [s.name, s]),
);

/** The table keyed by {@link foldedHash} of the name (no two names share a hash: checked here). */
const BY_HASH = new Map<number, CommandSpec>();
for (const s of COMMAND_TABLE.values()) {
  const h = foldedHash(bytes(s.name));
  assert(!BY_HASH.has(h), "commands/mod.ts", `two command names hash alike: ${s.name}`);
  BY_HASH.set(h, s);
}

/** The command `name` (any case) names, or undefined. */
function lookup(name: Uint8Array): CommandSpec | undefined {
  const s = BY_HASH.get(foldedHash(name));
  return s !== undefined && isWord(name, s.name) ? s : undefined;
}

/** Characters of a name or argument Redis quotes in "unknown command" errors. */
const UNKNOWN_ARGS_CHARS = 128;

/**
 * Runs commands against the host's keyspace, one at a time.
 *
 * @example
 * ```ts
 * const commands = new Commands(host);
 * commands.execute(session, [bytes("SET"), bytes("k"), bytes("v")], out); // out gets "+OK\r\n"
 * ```
 */
export class Commands {
  private readonly ctx: Context & { maxMemory: number };

  /** Fills the host's config with defaults for every parameter it lacks. */
  constructor(host: Host) {
    fillConfigDefaults(host);
    this.ctx = {
      host,
      ks: host.keyspace,
      session: undefined as unknown as Session,
      table: COMMAND_TABLE,
      spec: COMMAND_TABLE.get("ping")!,
      maxMemory: maxMemoryOf(host),
    };
  }

  /** Runs `argv` (argv[0] the name; never empty) for `session`, appending the reply to `out`. */
  execute(session: Session, argv: Uint8Array[], out: OutputWriter): void {
    const c = this.ctx;
    c.ks.now = Date.now();
    let spec = lookup(argv[0]);
    if (spec === undefined) return unknownCommand(argv, out);
    if (spec.subcommands !== undefined && argv.length >= 2) {
      const sub = spec.subcommands.get(lowerName(argv[1]));
      if (sub === undefined) {
        return out.error(
          `ERR unknown subcommand '${
            errorArg(argv[1], UNKNOWN_ARGS_CHARS)
          }'. Try ${spec.name.toUpperCase()} HELP.`,
        );
      }
      spec = sub;
    }
    const n = argv.length;
    if ((spec.arity > 0 && spec.arity !== n) || n < -spec.arity || spec.handler === undefined) {
      return out.error(`ERR wrong number of arguments for '${spec.name}' command`);
    }
    c.maxMemory = maxMemoryOf(c.host);
    if (spec.denyOom && c.maxMemory > 0 && c.ks.usedBytes() > c.maxMemory) return out.raw(R_OOM);
    c.session = session;
    c.spec = spec;
    session.lastCommand = spec.name;
    c.host.commandsProcessed++;
    const mark = out.length;
    try {
      spec.handler(c, argv, out);
    } catch (e) {
      if (!(e instanceof TardigradeError) || e.code !== Err.E_NO_MEMORY) throw e;
      out.length = mark;
      out.raw(R_OOM);
    }
  }
}

/** Redis 7.0's text: "unknown command 'x', with args beginning with: 'a' 'b' ". */
function unknownCommand(argv: Uint8Array[], out: OutputWriter): void {
  let args = "";
  for (let i = 1; i < argv.length && args.length < UNKNOWN_ARGS_CHARS; i++) {
    args += `'${errorArg(argv[i], UNKNOWN_ARGS_CHARS - args.length)}' `;
  }
  out.error(
    `ERR unknown command '${
      errorArg(argv[0], UNKNOWN_ARGS_CHARS)
    }', with args beginning with: ${args}`,
  );
}
