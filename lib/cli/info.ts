/** `info`: what this machine runs on, and the threads a model really uses here. */
import os from 'node:os';
import { runtimeInfo, type RuntimeInfo } from '../runtime-info';
import { defaultCpuThreads } from '../cross-encoder';

export interface ModelThreads {
  /** libtorch threads of a CPU model's forwards (CrossEncoder.load()'s default; --cpu-threads). */
  cpuForward: number;
  /** Native threads that tokenize, shared by every model (one per core). */
  tokenizer: number;
}

export function modelThreads(): ModelThreads {
  return { cpuForward: defaultCpuThreads(), tokenizer: os.availableParallelism() };
}

function describe(info: RuntimeInfo, threads: ModelThreads): string {
  const lines = [
    `libtorch  ${info.libtorch.version ?? '(unknown version)'} ${info.libtorch.cudaBuild ? `CUDA ${info.libtorch.cudaVersion ?? '?'}` : 'CPU'} build, from ${info.libtorch.source}: ${info.libtorch.path}`,
    `core      ${info.core.path} (${info.core.flavour})`,
    `CUDA      ${info.cuda.available ? info.cuda.devices.map((d) => `cuda:${d.index} ${d.name}`).join(', ') : 'no device'}`,
    `auto      ${info.autoDevice.device}: ${info.autoDevice.note}`,
    `threads   ${threads.cpuForward} per CPU model's forwards (--cpu-threads; libtorch's own default here: ${info.cpuThreads}), ${threads.tokenizer} tokenizing`,
  ];
  for (const warning of info.warnings) lines.push(`warning   ${warning}`);
  return lines.join('\n');
}

export function info(json: boolean): number {
  const runtime = runtimeInfo();
  const threads = modelThreads();
  process.stdout.write(`${json ? JSON.stringify({ ...runtime, modelThreads: threads }, null, 2) : describe(runtime, threads)}\n`);
  return 0;
}
