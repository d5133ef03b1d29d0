/** The model flags shared by score, rank and serve (commands.ts), as CrossEncoder.load() options. */
import os from 'node:os';
import type { LoadOptions, Precision } from '../cross-encoder';
import type { Device } from '../device';
import { LIMITS } from '../validate';
import { integerFlag } from './args';

export function loadOptions(values: Record<string, string | boolean | undefined>): LoadOptions {
  const options: LoadOptions = {};
  if (typeof values.device === 'string') options.device = values.device as Device;
  if (typeof values.precision === 'string') options.precision = values.precision as Precision;
  const numbers = { maxLength: 'max-length', batchSize: 'batch-size', maxBatchTokens: 'max-batch-tokens', cpuThreads: 'cpu-threads' } as const;
  for (const [option, flag] of Object.entries(numbers) as Array<[keyof typeof numbers, string]>) {
    const value = integerFlag(flag, values[flag]);
    if (value !== undefined) options[option] = value;
  }
  return options;
}

/**
 * The libtorch threads a CPU model's forwards use when --cpu-threads is not given: every available
 * core (CrossEncoder.load()'s default, LoadOptions.cpuThreads), at most LIMITS.cpuThreads.max.
 */
export function defaultCpuThreads(): number {
  return Math.min(os.availableParallelism(), LIMITS.cpuThreads.max);
}
