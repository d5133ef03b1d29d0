/**
 * Explains a model.pt that libtorch refused: names the PyTorch that exported it when the archive
 * says so, and what to do about a version mismatch or a damaged file.
 */
import { loadRuntime } from './core';
import { TceError } from './errors';
import { minorVersion } from './libtorch';
import type { ModelDirInfo } from './model-dir';
import { readExportMetadata } from './torchscript-archive';

/** The TCE_MODEL_LOAD_FAILED error for `message`, libtorch's reason. */
export function loadFailure(info: ModelDirInfo, message: string): TceError {
  const runtime = loadRuntime();
  const metadata = readExportMetadata(info.modelPath);
  const libtorchVersion = runtime.libtorch.version ?? runtime.core.torchVersion;
  const exportedBy = typeof metadata?.torch_version === 'string' ? metadata.torch_version : null;
  const newer = exportedBy !== null && compareVersions(minorVersion(exportedBy), minorVersion(libtorchVersion)) > 0;
  const schemaProblem = /Unknown builtin op|Unknown type name|schema|Arguments for call are not valid|maximum supported version/i.test(message);
  let hint = '';
  if (newer) {
    hint = `\nmodel.pt was exported by PyTorch ${exportedBy}, newer than this libtorch (${libtorchVersion}); operators change between versions. ` +
      `Re-export it with PyTorch ${minorVersion(libtorchVersion)} (python3 scripts/export.py), or run on a libtorch >= ${minorVersion(exportedBy)} (TCE_LIBTORCH, see README).`;
  } else if (schemaProblem) {
    hint = `\nmodel.pt may have been exported by a newer PyTorch than this libtorch (${libtorchVersion}); re-export it with the PyTorch that matches, or use a newer libtorch.`;
  } else if (/zip archive|central directory|PytorchStreamReader|constants\.pkl|data\.pkl/i.test(message)) {
    hint = '\nmodel.pt is not a readable TorchScript archive (truncated or corrupt?). Re-export it with scripts/export.py.';
  }
  return new TceError('TCE_MODEL_LOAD_FAILED', `Could not load ${info.modelPath}: ${message.trim()}${hint}`);
}

function compareVersions(x: string, y: string): number {
  const a = x.split('.').map(Number);
  const b = y.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

