/**
 * Turns the `device` load option into the device a model runs on, and says once per process what
 * the user should know about that choice (the CPU fallback of 'auto', a slow BLAS).
 */
import { loadRuntime } from './core';
import { TceError } from './errors';
import { describeRuntime, type RuntimeInfo } from './runtime-info';

export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

const warned = new Set<string>();

function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { code });
}

export function pickDevice(requested: Device, info: RuntimeInfo): string {
  if (requested === 'auto') return info.autoDevice.device;
  if (requested === 'cpu') return 'cpu';
  const match = /^cuda(?::(\d+))?$/.exec(requested);
  if (!match) {
    throw new TceError('TCE_INVALID_OPTION', `device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got ${JSON.stringify(requested)}`);
  }
  if (!info.cuda.available) {
    throw new TceError('TCE_CUDA_UNAVAILABLE', `device '${requested}' was asked for, but CUDA is not available: ${info.autoDevice.note}. Use device 'cpu' or 'auto'.`);
  }
  const index = match[1] === undefined ? 0 : Number(match[1]);
  if (index >= info.cuda.devices.length) {
    throw new TceError('TCE_CUDA_UNAVAILABLE', `device '${requested}' does not exist: this machine has ${info.cuda.devices.length} CUDA device(s).`);
  }
  return `cuda:${index}`;
}

/** The device for a model load: 'cpu' or 'cuda:N'. Loads the runtime if it is not loaded yet. */
export function resolveDevice(requested: Device): string {
  const info = describeRuntime(loadRuntime());
  const device = pickDevice(requested, info);
  if (device === 'cpu') {
    // A CUDA build of libtorch that sees no GPU is worth a word: the user probably expected one.
    if (requested === 'auto' && info.libtorch.cudaBuild) {
      warnOnce('TCE_AUTO_DEVICE_CPU', `device 'auto' runs on the CPU: ${info.autoDevice.note}.`);
    }
    // runtimeInfo's warnings are about CPU speed (a slow BLAS): say them once, at a CPU model load.
    for (const warning of info.warnings) warnOnce('TCE_REFERENCE_BLAS', warning);
  }
  return device;
}
