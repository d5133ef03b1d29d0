#!/usr/bin/env node
/**
 * The `torch-cross-encoder` command:
 *   torch-cross-encoder info [--json]                 what this process would run on (runtimeInfo)
 *   torch-cross-encoder build-core [--libtorch DIR]   build the torch core for a libtorch
 * build-core works from an installed package too: it builds into the package's cores/ folder with
 * cmake-js (a dependency), and needs cmake and a C++ compiler (and nvcc for a CUDA libtorch).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from './native';
import { runtimeInfo, type RuntimeInfo } from './runtime-info';

const USAGE = `Usage:
  torch-cross-encoder info [--json]                 what this machine runs on: libtorch, core, CUDA devices
  torch-cross-encoder build-core [--libtorch DIR]   build the torch core for the libtorch found (or DIR)`;

function describe(info: RuntimeInfo): string {
  const lines = [
    `libtorch  ${info.libtorch.version ?? '(unknown version)'} ${info.libtorch.cudaBuild ? `CUDA ${info.libtorch.cudaVersion ?? '?'}` : 'CPU'} build, from ${info.libtorch.source}: ${info.libtorch.path}`,
    `core      ${info.core.path} (${info.core.flavour})`,
    `CUDA      ${info.cuda.available ? info.cuda.devices.map((d) => `cuda:${d.index} ${d.name}`).join(', ') : 'no device'}`,
    `auto      ${info.autoDevice.device}: ${info.autoDevice.note}`,
    `threads   ${info.cpuThreads}`,
  ];
  for (const warning of info.warnings) lines.push(`warning   ${warning}`);
  return lines.join('\n');
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === 'info') {
    const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
    const info = runtimeInfo();
    console.log(values.json ? JSON.stringify(info, null, 2) : describe(info));
    return 0;
  }
  if (command === 'build-core') {
    const { values } = parseArgs({ args: rest, options: { libtorch: { type: 'string' } } });
    const env = { ...process.env };
    if (values.libtorch) env.TCE_LIBTORCH = path.resolve(values.libtorch);
    const result = spawnSync(process.execPath, [path.join(packageRoot, 'scripts', 'build-core.mjs')], { stdio: 'inherit', env });
    return result.status ?? 1;
  }
  console.error(command === undefined || command === '--help' || command === '-h' ? USAGE : `Unknown command ${JSON.stringify(command)}.\n${USAGE}`);
  return command === '--help' || command === '-h' ? 0 : 2;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`torch-cross-encoder: ${(error as Error).message}`);
  process.exitCode = 1;
}
