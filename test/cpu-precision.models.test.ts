// precision 'auto' on the CPU: bf16 where the CPU has bf16 matmuls (AMX or AVX512-BF16), fp32
// elsewhere, read here from /proc/cpuinfo independently of lib/cpu/features.ts; and a CPU model
// reports the thread count it was loaded with.
import fs from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { runtimeInfo } from '../lib/runtime-info';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';

const skipReason = modelTestsSkipReason();
if (skipReason) console.warn(`cpu-precision tests skipped: ${skipReason}`);

/** Whether a flags line of /proc/cpuinfo names `flag` (false off Linux). */
function cpuHas(flag: string): boolean {
  try {
    return new RegExp(`^flags\\s*:.*\\b${flag}\\b`, 'm').test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

describe.skipIf(skipReason)("precision 'auto' and threads on the CPU", () => {
  let dir: string;
  const sample = bioasqPairs(8);

  beforeAll(() => {
    dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
  });

  test("'auto' is bf16 exactly where the CPU has AVX512-BF16 or AMX bf16, and scores as that precision does", async () => {
    const expected = cpuHas('avx512_bf16') || (cpuHas('amx_bf16') && cpuHas('amx_tile')) ? 'bf16' : 'fp32';
    const auto = await CrossEncoder.load(dir, { device: 'cpu', precision: 'auto' });
    const explicit = await CrossEncoder.load(dir, { device: 'cpu', precision: expected });
    try {
      expect(auto.precision).toBe(expected);
      expect(runtimeInfo().cpu.bf16.fast).toBe(expected === 'bf16');
      expect(Array.from((await auto.predict(sample)) as Float32Array)).toEqual(Array.from((await explicit.predict(sample)) as Float32Array));
    } finally {
      await Promise.all([auto.dispose(), explicit.dispose()]);
    }
  });

  test('a CPU model reports its threads: the option, else the process-wide default', async () => {
    const given = await CrossEncoder.load(dir, { device: 'cpu', cpuThreads: 1 });
    const fallback = await CrossEncoder.load(dir, { device: 'cpu' });
    try {
      expect(given.cpuThreads).toBe(1);
      expect(fallback.cpuThreads).toBe(runtimeInfo().cpuThreads);
    } finally {
      await Promise.all([given.dispose(), fallback.dispose()]);
    }
  });
});
