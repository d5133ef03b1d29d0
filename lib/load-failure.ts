/**
 * Explains a model file that the core refused: a damaged file (TCE_MODEL_FILE), or
 * TCE_MODEL_LOAD_FAILED with what to do: the export flags that make a model this libtorch runs
 * (docs/EXPORT.md; the `export` command an installed package has), or the libtorch that runs it. The core's message is shown as a short,
 * printable excerpt: it may quote the file's own text (TorchScript code, names), never at length.
 */
import { loadRuntime } from './core';
import { TceError } from './errors';
import { minorVersion } from './libtorch';
import type { ModelDirInfo } from './model-dir';
import { readExportMetadata } from './torchscript-archive';

/** The most of the core's message a load error shows: lines and characters. */
const EXCERPT = { lines: 12, lineChars: 500, chars: 2500 };

/**
 * `text` cut to EXCERPT, with every character outside printable ASCII and ordinary Unicode text
 * (control characters, stray bytes decoded as U+FFFD) shown as '?'.
 */
export function printableExcerpt(text: string): string {
  const lines = text.trim().split('\n').slice(0, EXCERPT.lines + 1);
  const shown = lines.slice(0, EXCERPT.lines).map((line) => {
    // eslint-disable-next-line no-control-regex
    const clean = line.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]/g, '?');
    return clean.length > EXCERPT.lineChars ? `${clean.slice(0, EXCERPT.lineChars)}...` : clean;
  });
  if (lines.length > EXCERPT.lines) shown.push('...');
  const joined = shown.join('\n');
  return joined.length > EXCERPT.chars ? `${joined.slice(0, EXCERPT.chars)}...` : joined;
}

/** What a file damaged after it was written looks like in the core's message (native/core/model_file.cc). */
const DAMAGED = /\bis damaged\b/;

/** The error for a model that failed to load with `message`, the core's reason. */
export function loadFailure(info: ModelDirInfo, message: string): TceError {
  const runtime = loadRuntime();
  const modelPath = info.modelPath;
  const libtorchVersion = runtime.libtorch.version ?? runtime.core.torchVersion;
  const excerpt = printableExcerpt(message);
  if (DAMAGED.test(message)) {
    return new TceError('TCE_MODEL_FILE', `Could not load ${modelPath}: ${excerpt}`);
  }
  const metadata = readExportMetadata(modelPath);
  const pt2 = metadata?.format === 'pt2' || modelPath.endsWith('.pt2');
  const exportedBy = typeof metadata?.torch_version === 'string' ? metadata.torch_version : null;
  const newer = exportedBy !== null && compareVersions(minorVersion(exportedBy), minorVersion(libtorchVersion)) > 0;
  const schemaProblem = /Unknown builtin op|Unknown type name|schema|Arguments for call are not valid|maximum supported version/i.test(message);
  const forThisLibtorch = `npx torch-cross-encoder export SOURCE OUT -- --target-libtorch ${minorVersion(libtorchVersion)}`;
  let hint = '';
  // A package on a core without AOTInductor: the core's message names the libtorch and the export
  // flag (native/core/aoti_runner.cc).
  if (!pt2 && (newer || schemaProblem)) {
    // An operator this libtorch lacks: most often SDPA attention (PyTorch 2.0+) traced into a model
    // for libtorch 1.13, or any operator of a newer PyTorch. The export flags pick what it can run.
    const sdpa = metadata?.attn_implementation === 'sdpa' && compareVersions(minorVersion(libtorchVersion), '2.0') < 0;
    const runsOn = newer ? minorVersion(exportedBy) : sdpa ? '2.0' : null;
    hint = (newer
      ? `\nmodel.pt was exported by PyTorch ${exportedBy}, newer than this libtorch (${libtorchVersion}), and uses an operator it lacks`
      : `\nmodel.pt uses an operator this libtorch (${libtorchVersion}) lacks`) +
      `${sdpa ? ' (it was traced with SDPA attention, which libtorch 1.13 does not have)' : ''}. ` +
      `Export it for this libtorch: ${forThisLibtorch} (eager attention; or --attn eager)` +
      (runsOn ? `, or run on a libtorch >= ${runsOn} (TCE_LIBTORCH, see README).` : '.');
  } else if (/zip archive|central directory|PytorchStreamReader|constants\.pkl|data\.pkl/i.test(message)) {
    hint = `\n${pt2 ? 'model.pt2 is not a readable AOTInductor package' : 'model.pt is not a readable TorchScript archive'}. Export it again: npx torch-cross-encoder export SOURCE OUT.`;
  }
  return new TceError('TCE_MODEL_LOAD_FAILED', `Could not load ${modelPath}: ${excerpt}${hint}`);
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
