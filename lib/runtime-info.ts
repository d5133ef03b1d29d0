/** runtimeInfo(): what this process would run on, for logs and bug reports. */
import { loadRuntime, type LoadedRuntime } from './core';
import type { FindLibtorchOptions, LibtorchSource } from './libtorch';
import { native } from './native';

export interface CudaDeviceInfo {
  index: number;
  name: string;
  /** Bytes; undefined when the core was built without CUDA headers. */
  totalMemory?: number;
  freeMemory?: number;
}

export interface RuntimeInfo {
  libtorch: {
    version: string | null;
    path: string;
    source: LibtorchSource;
    cudaBuild: boolean;
  };
  core: { path: string; torchVersion: string };
  cuda: { available: boolean; devices: CudaDeviceInfo[] };
  /** Which device `device: 'auto'` picks, and why. */
  autoDevice: { device: string; note: string };
  cpuThreads: number;
}

export function describeRuntime(runtime: LoadedRuntime): RuntimeInfo {
  const addon = native();
  const devices = addon.cudaDevices();
  const available = devices.length > 0;
  return {
    libtorch: {
      version: runtime.libtorch.version,
      path: runtime.libtorch.libDir,
      source: runtime.libtorch.source,
      cudaBuild: runtime.libtorch.cudaBuild,
    },
    core: { path: runtime.corePath, torchVersion: runtime.core.torchVersion },
    cuda: { available, devices },
    autoDevice: available
      ? { device: 'cuda:0', note: `CUDA is available: ${devices[0].name}` }
      : {
          device: 'cpu',
          note: runtime.libtorch.cudaBuild
            ? 'this libtorch has CUDA kernels but sees no CUDA device (driver missing or CUDA_VISIBLE_DEVICES empty): running on CPU'
            : 'this libtorch is a CPU build: running on CPU (for the GPU, `pip install torch` with CUDA and use its libtorch)',
        },
    cpuThreads: addon.numThreads(),
  };
}

/**
 * Finds and loads libtorch and the torch core (once per process) and reports what was found.
 * Throws the discovery error, with every place looked at, when there is no usable libtorch.
 */
export function runtimeInfo(options: FindLibtorchOptions = {}): RuntimeInfo {
  return describeRuntime(loadRuntime(options));
}
