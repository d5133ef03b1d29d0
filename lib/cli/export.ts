/**
 * `export SOURCE OUT`: runs the package's scripts/export.py in a Python that has torch and
 * transformers. Which Python: --python, else env TCE_PYTHON (either is used as given), else the
 * first of the active virtualenv's ($VIRTUAL_ENV) and python3 on PATH that has both. When none
 * fits, the error lists every Python tried, what each lacks, and how to name another.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../native';
import { type ParsedArgs, UsageError } from './args';

/** A Python the export may run in, and where it was named. */
export interface PythonCandidate {
  python: string;
  from: string;
}

/** What a Python has: the modules export.py needs, or why it could not be run. */
interface Probe {
  torch: boolean;
  transformers: boolean;
  error?: string;
}

const PROBE = 'import importlib.util as u; print(int(u.find_spec("torch") is not None), int(u.find_spec("transformers") is not None))';

/** The Pythons to try, in order: an explicit one alone, else the virtualenv's and python3. */
export function pythonCandidates(flag: string | undefined, env: NodeJS.ProcessEnv): PythonCandidate[] {
  if (flag !== undefined) return [{ python: flag, from: '--python' }];
  if (env.TCE_PYTHON) return [{ python: env.TCE_PYTHON, from: 'env TCE_PYTHON' }];
  const candidates: PythonCandidate[] = [];
  if (env.VIRTUAL_ENV) candidates.push({ python: path.join(env.VIRTUAL_ENV, 'bin', 'python'), from: 'the active virtualenv ($VIRTUAL_ENV)' });
  candidates.push({ python: 'python3', from: 'PATH' });
  return candidates;
}

function probe(python: string): Probe {
  const result = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 60_000 });
  if (result.error) return { torch: false, transformers: false, error: result.error.message };
  const [torch, transformers] = result.stdout.trim().split(' ');
  if (result.status !== 0 || torch === undefined) {
    return { torch: false, transformers: false, error: `exit ${result.status}: ${result.stderr.trim().split('\n').pop() ?? ''}` };
  }
  return { torch: torch === '1', transformers: transformers === '1' };
}

function lacks(p: Probe): string {
  if (p.error) return `could not be run (${p.error})`;
  return `has no ${[p.torch ? null : 'torch', p.transformers ? null : 'transformers'].filter(Boolean).join(' and no ')}`;
}

/** The first candidate with torch and transformers; a UsageError naming each one tried when none has them. */
export function findExportPython(candidates: PythonCandidate[]): string {
  const tried: string[] = [];
  for (const candidate of candidates) {
    const found = probe(candidate.python);
    if (found.torch && found.transformers) return candidate.python;
    tried.push(`${candidate.python} (${candidate.from}) ${lacks(found)}`);
  }
  throw new UsageError(
    `export needs a Python with torch and transformers; tried: ${tried.join('; ')}. ` +
      'Install them there (pip install torch transformers), activate a virtualenv that has them, ' +
      'or name one with --python /path/to/python (or env TCE_PYTHON).',
  );
}

export function exportModel({ values, positionals }: ParsedArgs, passThrough: string[]): number {
  const python = findExportPython(pythonCandidates(typeof values.python === 'string' ? values.python : undefined, process.env));
  const script = path.join(packageRoot, 'scripts', 'export.py');
  const result = spawnSync(python, [script, positionals[0], positionals[1], ...passThrough], { stdio: 'inherit' });
  if (result.error) throw new UsageError(`cannot run ${python}: ${result.error.message} (--python names the Python with torch and transformers)`);
  return result.status ?? 1;
}
