// `torch-cross-encoder export` finds the Python it runs scripts/export.py in: --python, else env
// TCE_PYTHON, else the first of the active virtualenv's and python3 on PATH that has torch and
// transformers; when none has them it names each one tried. Stand-in Pythons (shell scripts)
// answer the probe as a Python with or without those modules would, and record the export run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';

const cli = path.join(repoRoot, 'dist', 'cli.js');

/** A stand-in Python at `file`: the probe (`-c ...`) prints whether it has torch and transformers; a script run is logged to `file`.log. */
function fakePython(file: string, has: { torch: boolean; transformers: boolean }): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\nif [ "$1" = "-c" ]; then echo "${Number(has.torch)} ${Number(has.transformers)}"; exit 0; fi\n` +
    `echo "$@" > "${file}.log"\nexit 0\n`);
  fs.chmodSync(file, 0o755);
  return file;
}

function runExport(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [cli, 'export', 'some/model', 'out', ...args], { encoding: 'utf8', timeout: 60_000, env: { HOME: process.env.HOME, ...env } });
}

describe('export finds a Python with torch and transformers', () => {
  test('none has them: every Python tried is named with what it lacks, and how to name another', () => {
    const root = tempDir('export-python');
    const venv = path.join(root, 'venv');
    fakePython(path.join(venv, 'bin', 'python'), { torch: false, transformers: false });
    const bin = path.join(root, 'bin');
    fakePython(path.join(bin, 'python3'), { torch: true, transformers: false });
    const result = runExport([], { PATH: `${bin}:/usr/bin:/bin`, VIRTUAL_ENV: venv });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${path.join(venv, 'bin', 'python')} (the active virtualenv ($VIRTUAL_ENV)) has no torch and no transformers`);
    expect(result.stderr).toContain('python3 (PATH) has no transformers');
    expect(result.stderr).toContain('--python /path/to/python (or env TCE_PYTHON)');
    expect(result.stderr).not.toContain('torch-cross-encoder: torch-cross-encoder:');
  });

  test('the virtualenv comes before python3, and the chosen one runs the package\'s export.py with the arguments after --', () => {
    const root = tempDir('export-python');
    const venvPython = fakePython(path.join(root, 'venv', 'bin', 'python'), { torch: true, transformers: true });
    const bin = path.join(root, 'bin');
    const python3 = fakePython(path.join(bin, 'python3'), { torch: true, transformers: true });
    const result = runExport(['--', '--target-libtorch', '1.13'], { PATH: `${bin}:/usr/bin:/bin`, VIRTUAL_ENV: path.join(root, 'venv') });
    expect(result.status).toBe(0);
    expect(fs.readFileSync(`${venvPython}.log`, 'utf8').trim()).toBe(`${path.join(repoRoot, 'scripts', 'export.py')} some/model out --target-libtorch 1.13`);
    expect(fs.existsSync(`${python3}.log`)).toBe(false);
  });

  test('--python and TCE_PYTHON are used as given: one without torch is an error that names it', () => {
    const root = tempDir('export-python');
    const chosen = fakePython(path.join(root, 'chosen'), { torch: false, transformers: true });
    const fallback = fakePython(path.join(root, 'bin', 'python3'), { torch: true, transformers: true });
    const env = { PATH: `${path.dirname(fallback)}:/usr/bin:/bin` };
    const flag = runExport(['--python', chosen], env);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain(`tried: ${chosen} (--python) has no torch.`);
    const fromEnv = runExport([], { ...env, TCE_PYTHON: chosen });
    expect(fromEnv.stderr).toContain(`tried: ${chosen} (env TCE_PYTHON) has no torch.`);
    const missing = runExport(['--python', path.join(root, 'nowhere')], env);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`${path.join(root, 'nowhere')} (--python) could not be run (`);
    expect(fs.existsSync(`${fallback}.log`)).toBe(false);
  });
});
