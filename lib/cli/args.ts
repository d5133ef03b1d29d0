/**
 * Parsing a command's arguments against its spec (commands.ts) with node:util's parseArgs,
 * strictly: an unknown option, a missing value, a missing or extra positional argument is a
 * UsageError that names it. Option values are read here only as far as the command line goes
 * (a number is a number); the library's checks decide the bounds, and their messages are
 * translated to flag names (flagErrors).
 */
import { parseArgs } from 'node:util';
import { TceError } from '../errors';
import { MAX_TIMER_MS } from '../server/options';
import { type CommandSpec, FLAG_OF_OPTION } from './commands';

export class UsageError extends Error {
  constructor(message: string, public command?: CommandSpec) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

export function parseCommand(command: CommandSpec, args: string[]): ParsedArgs {
  const options = Object.fromEntries(command.options.map((o) => [o.name, { type: o.type, ...(o.short ? { short: o.short } : {}) }]));
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message, command);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const help = values.help === true;
  if (help) return { values, positionals: parsed.positionals, help };
  const required = command.args.filter((a) => a.required);
  if (parsed.positionals.length < required.length) {
    throw new UsageError(`missing ${required.slice(parsed.positionals.length).map((a) => a.name).join(' ')}`, command);
  }
  if (parsed.positionals.length > command.args.length) {
    const extra = parsed.positionals.slice(command.args.length).map((a) => JSON.stringify(a)).join(' ');
    throw new UsageError(`unexpected argument${parsed.positionals.length - command.args.length > 1 ? 's' : ''} ${extra} (${command.name} takes ${command.args.map((a) => a.name).join(' ') || 'none'})`, command);
  }
  return { values, positionals: parsed.positionals, help };
}

/** A whole number given to `--flag` (the library checks its bounds). */
export function integerFlag(flag: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(number)) throw new UsageError(`--${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return number;
}

/**
 * A duration in seconds given to `--flag`, as milliseconds, from `min` seconds to the longest
 * timeout Node's timers keep (MAX_TIMER_MS, 2147483.647 s): the error speaks in seconds, as the
 * flag does.
 */
export function secondsFlag(flag: string, value: string | boolean | undefined, min = 0.001): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const seconds = Number(value);
  const max = MAX_TIMER_MS / 1000;
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < min || seconds > max) {
    throw new UsageError(`--${flag} must be a number of seconds from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return Math.round(seconds * 1000);
}

/**
 * A TCE_INVALID_OPTION from the library, in flags: "batchSize must be ..." reads
 * "--batch-size must be ...". Other errors pass unchanged.
 */
export function flagErrors(error: unknown): unknown {
  if (!(error instanceof TceError) || error.code !== 'TCE_INVALID_OPTION') return error;
  const names = Object.keys(FLAG_OF_OPTION).join('|');
  const message = error.message.replace(new RegExp(`(?<![\\w-])(?:options\\.)?(${names})\\b`, 'g'), (_, name: string) => FLAG_OF_OPTION[name]);
  return new UsageError(message);
}
