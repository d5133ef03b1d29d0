// The CPU budget behind the default libtorch thread count: cgroup v2 cpu.max, cgroup v1 CFS
// quotas, /proc/self/cgroup and affinity lists, parsed from texts as Linux writes them (this
// machine has no cgroup quota, so each case hands cgroupCpuQuota/cpuBudget a file system of its own),
// and the bf16 flags of /proc/cpuinfo.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseCpuBf16 } from '../lib/cpu/features';
import {
  cgroupCpuQuota, cpuBudget, defaultCpuThreads, parseCfsQuota, parseCpuList, parseCpuMax, parseProcCgroup,
  parseStatusAffinity, quotaThreads, type ReadText,
} from '../lib/cpu/threads';
import { repoRoot } from './helpers/child';

/** A read function over a fixed set of files. */
function files(contents: Record<string, string>): ReadText {
  return (file) => contents[file] ?? null;
}

describe('cgroup v2 cpu.max', () => {
  test.each([
    ['max 100000\n', null],
    ['150000 100000\n', 1.5],
    ['200000 100000', 2],
    ['50000 100000', 0.5],
    ['100000', 1], // the period left out: the kernel's 100 ms
    ['', null],
    ['garbage 100000', null],
    ['0 100000', null],
  ])('%j -> %s CPUs', (text, cpus) => {
    expect(parseCpuMax(text)).toBe(cpus);
  });
});

describe('cgroup v1 CFS quota', () => {
  test.each([
    ['-1\n', '100000\n', null],
    ['250000\n', '100000\n', 2.5],
    ['100000', '50000', 2],
    ['100000', '0', null],
  ])('quota %j period %j -> %s CPUs', (quota, period, cpus) => {
    expect(parseCfsQuota(quota, period)).toBe(cpus);
  });
});

test('a quota rounds up to whole threads, at least 1', () => {
  expect([0.1, 0.5, 1, 1.5, 2, 2.0000001, 3.99].map(quotaThreads)).toEqual([1, 1, 1, 2, 2, 3, 4]);
});

describe('/proc/self/cgroup', () => {
  test('cgroup v2 only', () => {
    expect(parseProcCgroup('0::/system.slice/app.service\n')).toEqual({ unified: '/system.slice/app.service', cpuV1: null });
  });

  test('cgroup v1, the cpu controller joined with cpuacct', () => {
    const text = '12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n';
    expect(parseProcCgroup(text)).toEqual({ unified: '/', cpuV1: '/docker/abc' });
  });

  test('cpuacct alone is not the cpu controller', () => {
    expect(parseProcCgroup('2:cpuacct:/a\n').cpuV1).toBeNull();
  });
});

describe('affinity lists', () => {
  test.each([
    ['0', 1],
    ['0-1', 2],
    ['0-3,8,10-11', 7],
    ['5-2', null],
    ['', null],
    ['x', null],
  ])('%j -> %s CPUs', (list, count) => {
    expect(parseCpuList(list)).toBe(count);
  });

  test('from a /proc/self/status text', () => {
    const status = 'Name:\tnode\nCpus_allowed:\tff\nCpus_allowed_list:\t0-2,6\nMems_allowed:\t1\n';
    expect(parseStatusAffinity(status)).toBe(4);
    expect(parseStatusAffinity('Name:\tnode\n')).toBeNull();
  });
});

describe("the process's cgroup quota", () => {
  test('cgroup v2: the quota of its own group', () => {
    const read = files({
      '/proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
      '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': '150000 100000\n',
      '/sys/fs/cgroup/kubepods/cpu.max': 'max 100000\n',
    });
    expect(cgroupCpuQuota(read)).toBe(1.5);
  });

  test('cgroup v2: a smaller quota on an ancestor limits it', () => {
    const read = files({
      '/proc/self/cgroup': '0::/a/b\n',
      '/sys/fs/cgroup/a/b/cpu.max': '400000 100000\n',
      '/sys/fs/cgroup/a/cpu.max': '100000 100000\n',
    });
    expect(cgroupCpuQuota(read)).toBe(1);
  });

  test('cgroup v2 inside a container: its namespace root', () => {
    const read = files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '300000 100000\n' });
    expect(cgroupCpuQuota(read)).toBe(3);
  });

  test('cgroup v1 under cpu,cpuacct', () => {
    const read = files({
      '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n0::/\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '50000\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuQuota(read)).toBe(0.5);
  });

  test('no quota anywhere, or no cgroup files at all', () => {
    const unlimited = files({ '/proc/self/cgroup': '0::/x\n', '/sys/fs/cgroup/x/cpu.max': 'max 100000\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' });
    expect(cgroupCpuQuota(unlimited)).toBeNull();
    expect(cgroupCpuQuota(files({}))).toBeNull();
  });
});

describe('the CPU budget', () => {
  const status = (list: string) => `Cpus_allowed_list:\t${list}\n`;

  test('a quota below the affinity mask sets the threads, rounded up', () => {
    const read = files({ '/proc/self/status': status('0-7'), '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '250000 100000' });
    expect(cpuBudget(read, 8)).toEqual({ threads: 3, affinity: 8, cgroupQuota: 2.5 });
  });

  test('a quota above the affinity mask leaves it', () => {
    const read = files({ '/proc/self/status': status('0-1'), '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '800000 100000' });
    expect(cpuBudget(read, 2)).toEqual({ threads: 2, affinity: 2, cgroupQuota: 8 });
  });

  test('the smaller of libuv\'s count and the mask in /proc', () => {
    expect(cpuBudget(files({ '/proc/self/status': status('3') }), 16)).toEqual({ threads: 1, affinity: 1, cgroupQuota: null });
    expect(cpuBudget(files({}), 4)).toEqual({ threads: 4, affinity: 4, cgroupQuota: null });
  });

  test('the default thread count of this process follows its real affinity mask (taskset)', (ctx) => {
    const taskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
    if (taskset.status !== 0) ctx.skip(); // util-linux's taskset is not installed
    const program = `const t = require(${JSON.stringify(path.join(repoRoot, 'dist', 'cpu', 'threads.js'))}); console.log(JSON.stringify(t.cpuBudget()))`;
    const pinned = spawnSync('taskset', ['-c', '0', process.execPath, '-e', program], { encoding: 'utf8' });
    expect(pinned.status).toBe(0);
    expect(JSON.parse(pinned.stdout)).toMatchObject({ threads: 1, affinity: 1 });
  });

  test('defaultCpuThreads is the budget, capped at 1024', () => {
    expect(defaultCpuThreads({ threads: 3, affinity: 8, cgroupQuota: 2.5 })).toBe(3);
    expect(defaultCpuThreads({ threads: 4096, affinity: 4096, cgroupQuota: null })).toBe(1024);
  });
});

describe('bf16 support from /proc/cpuinfo', () => {
  const cpuinfo = (flags: string) => `processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse2 ${flags}\nbugs\t\t: none\n`;

  test.each([
    ['avx512f avx512_bf16 avx512_vnni', { amx: false, avx512Bf16: true, fast: true }], // AMD Zen 4
    ['avx512_bf16 amx_bf16 amx_tile amx_int8', { amx: true, avx512Bf16: true, fast: true }], // Sapphire Rapids
    ['avx2 avx512f', { amx: false, avx512Bf16: false, fast: false }],
    ['amx_bf16', { amx: false, avx512Bf16: false, fast: false }], // no tiles to run it on
  ])('%s', (flags, expected) => {
    expect(parseCpuBf16(cpuinfo(flags))).toEqual(expected);
  });

  test('no flags line (not x86 Linux): nothing claimed', () => {
    expect(parseCpuBf16('')).toEqual({ amx: false, avx512Bf16: false, fast: false });
  });
});
