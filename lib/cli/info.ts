/** `info`: what this machine runs on, and the threads a model really uses here. */
import os from 'node:os';
import { runtimeInfo, type RuntimeInfo } from '../runtime-info';

export interface ModelThreads {
  /** libtorch threads of a CPU model's forwards (CrossEncoder.load()'s default; --cpu-threads): runtimeInfo().cpuThreads. */
  cpuForward: number;
  /** Native threads that tokenize, shared by every model (one per core). */
  tokenizer: number;
}

export function modelThreads(info: RuntimeInfo): ModelThreads {
  return { cpuForward: info.cpuThreads, tokenizer: os.availableParallelism() };
}

/** Where the thread count comes from: "2 CPUs in its affinity mask, cgroup quota 1.5 CPUs". */
function threadSource(cpu: RuntimeInfo['cpu']): string {
  const quota = cpu.cgroupQuota === null ? 'no cgroup CPU quota' : `cgroup CPU quota ${Number(cpu.cgroupQuota.toFixed(2))}`;
  return `${cpu.affinity} CPU${cpu.affinity === 1 ? '' : 's'} in its affinity mask, ${quota}`;
}

function bf16Line(bf16: RuntimeInfo['cpu']['bf16']): string {
  const has = [bf16.amx && 'AMX', bf16.avx512Bf16 && 'AVX512-BF16'].filter(Boolean).join(', ');
  return bf16.fast
    ? `bf16 matmuls on ${has}: precision 'auto' picks bf16 on the CPU`
    : "no bf16 matmuls (neither AMX nor AVX512-BF16): precision 'auto' stays fp32 on the CPU";
}

function describe(info: RuntimeInfo, threads: ModelThreads): string {
  const lines = [
    `libtorch  ${info.libtorch.version ?? '(unknown version)'} ${info.libtorch.cudaBuild ? `CUDA ${info.libtorch.cudaVersion ?? '?'}` : 'CPU'} build, from ${info.libtorch.source}: ${info.libtorch.path}`,
    `core      ${info.core.path} (${info.core.flavour})`,
    `CUDA      ${info.cuda.available ? info.cuda.devices.map((d) => `cuda:${d.index} ${d.name}`).join(', ') : 'no device'}`,
    `auto      ${info.autoDevice.device}: ${info.autoDevice.note}`,
    `threads   ${threads.cpuForward} per CPU model's forwards (--cpu-threads; ${threadSource(info.cpu)}), ${threads.tokenizer} tokenizing`,
    `cpu       ${bf16Line(info.cpu.bf16)}`,
  ];
  for (const warning of info.warnings) lines.push(`warning   ${warning}`);
  return lines.join('\n');
}

export function info(json: boolean): number {
  const runtime = runtimeInfo();
  const threads = modelThreads(runtime);
  process.stdout.write(`${json ? JSON.stringify({ ...runtime, modelThreads: threads }, null, 2) : describe(runtime, threads)}\n`);
  return 0;
}
