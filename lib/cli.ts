#!/usr/bin/env node
/**
 * The `torch-cross-encoder` command. Its commands, arguments and options are one table
 * (cli/commands.ts) that the parser and the help both read; each command is a module of cli/.
 * Exit status: 0 done (and for --help, help, --version), 1 a failure, 2 a usage error, 130 stopped
 * by a signal (`score`); `serve` stopped while its model loads: 128 + the signal's number.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from './native';
import { type ParsedArgs, parseCommand, UsageError } from './cli/args';
import { type CommandSpec, findCommand } from './cli/commands';
import { exportModel } from './cli/export';
import { commandHelp, overview, PROGRAM } from './cli/help';
import { info } from './cli/info';
import { rank } from './cli/rank';
import { score } from './cli/score';
import { serve } from './cli/serve';
import { packageVersion } from './server/info';

function buildCore({ values }: ParsedArgs): number {
  const env = { ...process.env };
  if (typeof values.libtorch === 'string') env.TCE_LIBTORCH = path.resolve(values.libtorch);
  return spawnSync(process.execPath, [path.join(packageRoot, 'scripts', 'build-core.mjs')], { stdio: 'inherit', env }).status ?? 1;
}

function help(topic: string | undefined): number {
  if (topic === undefined) {
    console.log(overview());
    return 0;
  }
  const command = findCommand(topic);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
  console.log(commandHelp(command));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    console.error(overview());
    return 2;
  }
  if (name === '--version' || name === '-V') {
    console.log(packageVersion());
    return 0;
  }
  if (name === '--help' || name === '-h') return help(undefined);
  const command = findCommand(name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  // export passes what follows `--` to export.py untouched.
  const split = command.name === 'export' ? rest.indexOf('--') : -1;
  const own = split < 0 ? rest : rest.slice(0, split);
  try {
    return await run(command, own, split < 0 ? [] : rest.slice(split + 1));
  } catch (error) {
    // A usage error of a command points at that command's help.
    if (error instanceof UsageError) error.command ??= command;
    throw error;
  }
}

async function run(command: CommandSpec, own: string[], passThrough: string[]): Promise<number> {
  const parsed = parseCommand(command, own);
  if (parsed.help) return help(command.name);
  switch (command.name) {
    case 'info': return info(parsed.values.json === true);
    case 'score': return score(parsed);
    case 'rank': return rank(parsed);
    case 'serve': return serve(parsed);
    case 'export': return exportModel(parsed, passThrough);
    case 'build-core': return buildCore(parsed);
    case 'help': return help(parsed.positionals[0]);
    default: throw new Error(`command ${command.name} has no implementation`);
  }
}

function usageHint(command: CommandSpec | undefined): string {
  return command ? `\n(${PROGRAM} ${command.name} --help lists its options)` : `\n(${PROGRAM} --help lists the commands)`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error & { code?: string }) => {
    const usage = error instanceof UsageError;
    console.error(`${PROGRAM}: ${error.message}${usage ? usageHint((error as UsageError).command) : ''}`);
    process.exitCode = usage ? 2 : 1;
  },
);
