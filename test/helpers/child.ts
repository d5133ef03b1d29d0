/** Runs a snippet against the built package in a fresh Node process, so that each test gets its
 * own libtorch discovery and its own (at most one) loaded libtorch. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');

export interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The JSON the snippet passed to `report(...)`. */
  report: any;
}

/** `code` runs as a CommonJS function body with `pkg` (the package) and `report(value)` in scope, in `cwd` if given. */
export function runChild(code: string, env: NodeJS.ProcessEnv = {}, cwd?: string): ChildResult {
  const program =
    `const pkg = require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))});\n` +
    `const report = (v) => process.stdout.write('\\n@@REPORT@@' + JSON.stringify(v) + '\\n');\n` +
    `(async () => {\n${code}\n})().catch((e) => { report({ thrown: { name: e.name, code: e.code, message: e.message } }); });`;
  const result = spawnSync(process.execPath, ['-e', program], {
    env: { HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    timeout: 120_000,
    cwd,
  });
  const line = result.stdout.split('\n').find((l) => l.startsWith('@@REPORT@@'));
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    report: line ? JSON.parse(line.slice('@@REPORT@@'.length)) : undefined,
  };
}
