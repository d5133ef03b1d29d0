/**
 * How many CPUs this process may really use: the cores of its CPU affinity mask, capped by the CPU
 * quota of its cgroup (a container's `--cpus`, a systemd CPUQuota, a Kubernetes CPU limit). The
 * one count behind the default libtorch threads of a CPU model and every report of it (`info`,
 * runtimeInfo(), the server's /info). The parsers take file texts, so that they are tested on
 * texts of machines this one is not.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LIMITS } from '../validate';

/**
 * CPUs from cgroup v2's cpu.max ("$MAX $PERIOD", MAX "max" when unlimited): MAX / PERIOD, or null
 * when unlimited or unreadable.
 */
export function parseCpuMax(text: string): number | null {
  const fields = text.trim().split(/\s+/);
  if (fields.length < 1 || fields[0] === 'max' || fields[0] === '') return null;
  const quota = Number(fields[0]);
  const period = fields.length > 1 ? Number(fields[1]) : 100_000; // the kernel's default period
  return quotaCpus(quota, period);
}

/** CPUs from cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us (quota -1: unlimited), or null. */
export function parseCfsQuota(quotaText: string, periodText: string): number | null {
  return quotaCpus(Number(quotaText.trim()), Number(periodText.trim()));
}

function quotaCpus(quota: number, period: number): number | null {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return null;
  return quota / period;
}

/** The threads a quota of `cpus` CPUs runs without throttling: rounded up, at least 1. */
export function quotaThreads(cpus: number): number {
  return Math.max(1, Math.ceil(cpus - 1e-9));
}

export interface ProcessCgroups {
  /** The process's cgroup v2 path ("0::/path"), when the unified hierarchy is in use. */
  unified: string | null;
  /** Its cgroup v1 path in the hierarchy that holds the cpu controller, when there is one. */
  cpuV1: string | null;
}

/** The process's cgroups from /proc/self/cgroup ("ID:CONTROLLERS:PATH" a line). */
export function parseProcCgroup(text: string): ProcessCgroups {
  const found: ProcessCgroups = { unified: null, cpuV1: null };
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers, cgroupPath] = match;
    if (id === '0' && controllers === '') found.unified = cgroupPath;
    else if (controllers.split(',').includes('cpu')) found.cpuV1 = cgroupPath;
  }
  return found;
}

/** CPUs of a mask list such as /proc/self/status's Cpus_allowed_list ("0-3,8,10-11"), or null. */
export function parseCpuList(text: string): number | null {
  let count = 0;
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) return null;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first) return null;
    count += last - first + 1;
  }
  return count > 0 ? count : null;
}

/** The Cpus_allowed_list of a /proc/<pid>/status text, counted. */
export function parseStatusAffinity(statusText: string): number | null {
  const match = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(statusText);
  return match ? parseCpuList(match[1]) : null;
}

/** Reads a file's text, or null when it is not there (no cgroup, not Linux). */
export type ReadText = (file: string) => string | null;

const readText: ReadText = (file) => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** The folders from `cgroupPath` up to the root of a hierarchy mounted at `mount`. */
function ancestors(mount: string, cgroupPath: string): string[] {
  const dirs: string[] = [];
  let current = path.posix.normalize(`/${cgroupPath}`);
  for (;;) {
    dirs.push(path.posix.join(mount, current));
    if (current === '/') return dirs;
    current = path.posix.dirname(current);
  }
}

/**
 * The CPU quota of this process's cgroup in CPUs, or null when none limits it. A quota on any
 * ancestor limits the group too, so the smallest on the way to the root counts. A container sees
 * its own cgroup as "/" (cgroup namespace), which is where it looks then.
 */
export function cgroupCpuQuota(read: ReadText = readText, root = '/sys/fs/cgroup'): number | null {
  const cgroups = parseProcCgroup(read('/proc/self/cgroup') ?? '');
  const quotas: number[] = [];
  if (cgroups.unified !== null) {
    for (const dir of ancestors(root, cgroups.unified)) {
      const text = read(path.posix.join(dir, 'cpu.max'));
      const cpus = text === null ? null : parseCpuMax(text);
      if (cpus !== null) quotas.push(cpus);
    }
  }
  if (cgroups.cpuV1 !== null) {
    // The cpu controller is mounted as cpu, or joined with cpuacct, depending on the distribution.
    for (const mount of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu'].map((m) => path.posix.join(root, m))) {
      for (const dir of ancestors(mount, cgroups.cpuV1)) {
        const quota = read(path.posix.join(dir, 'cpu.cfs_quota_us'));
        const period = read(path.posix.join(dir, 'cpu.cfs_period_us'));
        const cpus = quota === null || period === null ? null : parseCfsQuota(quota, period);
        if (cpus !== null) quotas.push(cpus);
      }
    }
  }
  return quotas.length > 0 ? Math.min(...quotas) : null;
}

export interface CpuBudget {
  /** The threads a CPU model's forwards use by default: min(affinity, quota rounded up), at least 1. */
  threads: number;
  /** CPUs in the process's affinity mask (os.availableParallelism(), sched_getaffinity). */
  affinity: number;
  /** The cgroup CPU quota in CPUs (e.g. 1.5), or null when none is set. */
  cgroupQuota: number | null;
}

/** The CPUs this process may use, from its affinity and its cgroup quota. */
export function cpuBudget(read: ReadText = readText, affinity = os.availableParallelism()): CpuBudget {
  // os.availableParallelism() counts the affinity mask; /proc's list is the same mask, read only
  // to be sure on a Node whose libuv counted online CPUs instead.
  const listed = parseStatusAffinity(read('/proc/self/status') ?? '');
  const mask = Math.max(1, Math.min(affinity, listed ?? affinity));
  const cgroupQuota = cgroupCpuQuota(read);
  const threads = cgroupQuota === null ? mask : Math.min(mask, quotaThreads(cgroupQuota));
  return { threads, affinity: mask, cgroupQuota };
}

/**
 * The libtorch threads a CPU model's forwards use when LoadOptions.cpuThreads is not given (the
 * count `info`, runtimeInfo() and the server's /info report): cpuBudget().threads, at most
 * LIMITS.cpuThreads.max. libtorch's own default counts every online core, quota or not.
 */
export function defaultCpuThreads(budget: CpuBudget = cpuBudget()): number {
  return Math.min(budget.threads, LIMITS.cpuThreads.max);
}
