/** The glue between commander and command handlers: a handler returns the exit code of its run. */
import type { CommandContext } from "../io.js";

/** Runs one command with its parsed options and returns the process exit code. */
export type CommandHandler<O> = (options: O, ctx: CommandContext) => Promise<number>;

/** Turns a handler into a commander action that records the exit code for `runCli`. */
export type ActionFactory = <O>(handler: CommandHandler<O>) => (options: O) => Promise<void>;

/** Options every command that reads a config has. */
export interface ConfigFlags {
  config: string;
  json?: boolean;
}

/** The config file used when `--config` is not given. */
export const DEFAULT_CONFIG_FILE = "cacheplane.config.ts";
