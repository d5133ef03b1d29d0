/**
 * What the CPU offers bfloat16 matmuls, from the flags of /proc/cpuinfo (Linux): AMX tiles
 * (Intel Sapphire Rapids and later: oneDNN's fastest bf16 GEMMs) and AVX512-BF16 (Intel Cooper
 * Lake and later, AMD Zen 4 and later: bf16 dot products at twice the fp32 FMA rate). Without
 * either, libtorch converts bf16 to fp32 for every matmul and bf16 is slower than fp32.
 */
import fs from 'node:fs';

export interface CpuBf16 {
  /** AMX with bf16 tiles (flags amx_tile and amx_bf16). */
  amx: boolean;
  /** The AVX-512 bf16 instructions (flag avx512_bf16). */
  avx512Bf16: boolean;
  /** Whether precision 'auto' picks 'bf16' on this CPU: it has one of the two. */
  fast: boolean;
}

/** The bf16 features of a /proc/cpuinfo text (its first "flags" line; all cores match on x86). */
export function parseCpuBf16(cpuinfo: string): CpuBf16 {
  const match = /^flags\s*:(.*)$/m.exec(cpuinfo);
  const flags = new Set(match ? match[1].trim().split(/\s+/) : []);
  const amx = flags.has('amx_tile') && flags.has('amx_bf16');
  const avx512Bf16 = flags.has('avx512_bf16');
  return { amx, avx512Bf16, fast: amx || avx512Bf16 };
}

let cached: CpuBf16 | undefined;

/** This machine's bf16 features (none known off Linux, where /proc/cpuinfo is missing). */
export function cpuBf16(): CpuBf16 {
  if (cached) return cached;
  let text = '';
  try {
    text = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: nothing known, so precision 'auto' stays fp32
  }
  cached = parseCpuBf16(text);
  return cached;
}
