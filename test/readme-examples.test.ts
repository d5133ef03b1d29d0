// README.md's examples, as they are written, against this clone (linked as
// node_modules/torch-cross-encoder of a consumer folder): every ```ts, ```js and ```sh block not
// marked `<!-- not run: why -->` runs, on the Node running the tests (20 in CI: syntax it lacks,
// such as `await using`, fails here). The TypeScript ones are compiled in a strict ES module
// project and type-checked in a CommonJS one (test/fixtures/ts-consumer). test/package.test.ts
// runs the same examples in a project that installed the packed tarballs.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';
import { modelTestsSkipReason } from './helpers/fixture-model';
import {
  linkRepository, prepareExamples, readmeBlocks, runExample, tsc, type Examples, type ReadmeBlock,
} from './fixtures/ts-consumer/project';

const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

describe('README.md code blocks', () => {
  const blocks = readmeBlocks(readme);

  test('starts with the clone\'s two commands: the main job and the tests', () => {
    const first = blocks[0];
    expect(first.lang).toBe('sh');
    expect(first.code).toContain('bash scripts/setup.sh && npm run demo');
    expect(first.code).toContain('bash scripts/setup.sh --test && npm test');
    // Nothing but the title and one paragraph comes before them.
    const before = readme.slice(0, readme.indexOf('```sh')).split('\n\n').filter((p) => p.trim() && !p.startsWith('<!--'));
    expect(before.length).toBeLessThanOrEqual(3);
  });

  test('CI runs the README\'s test command: .ci/run has its steps, in order', () => {
    const testLine = blocks[0].code.split('\n').find((l) => l.includes('npm test'))!;
    const steps = testLine.replace(/#.*$/, '').split('&&').map((step) => step.trim());
    expect(steps).toEqual(['bash scripts/setup.sh --test', 'npm test']);
    const ci = fs.readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8').split('\n').map((l) => l.trim());
    const at = steps.map((step) => ci.indexOf(step));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(at[1]).toBeGreaterThan(at[0]);
  });

  test('each example that is not run says why, and enough of them run', () => {
    const runnable = blocks.filter((b) => ['ts', 'js', 'sh'].includes(b.lang));
    for (const b of runnable) if (b.notRun !== null) expect(b.notRun.trim().length, `line ${b.line}`).toBeGreaterThan(10);
    const run = runnable.filter((b) => b.notRun === null);
    expect(run.filter((b) => b.lang === 'ts').length).toBeGreaterThanOrEqual(4);
    expect(run.filter((b) => b.lang === 'js').length).toBeGreaterThanOrEqual(1);
    expect(run.filter((b) => b.lang === 'sh').length).toBeGreaterThanOrEqual(1);
    // Code for an installed package: no clone-only paths in the examples that run.
    for (const b of run) expect(b.code, `line ${b.line}`).not.toMatch(/dist\/cli\.js|scripts\/export\.py|scripts\/setup\.sh/);
  });
});

const reason = modelTestsSkipReason();
describe.skipIf(reason)(`README.md examples run as written against the clone${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const root = tempDir('readme');
  let examples: Examples;
  let compiled: { status: number | null; output: string };

  beforeAll(() => {
    linkRepository(path.join(root, 'node_modules'));
    examples = prepareExamples(root);
    compiled = tsc(examples.esm);
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('the TypeScript examples compile in a strict ES module project (NodeNext)', () => {
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  });

  test('the TypeScript examples type-check in a CommonJS project (classic node resolution), inside an async function', () => {
    const result = tsc(examples.cjs);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  test('every example runs and exits 0; those that print, print', () => {
    const env = { HOME: process.env.HOME, PATH: process.env.PATH, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
    const failures: string[] = [];
    const all: ReadmeBlock[] = [...examples.ts, ...examples.js, ...examples.sh];
    for (const block of all) {
      const result = runExample(examples, block, env);
      const prints = /console\.log|npx torch-cross-encoder (info|rank|score \S+ <)/.test(block.code);
      if (result.status !== 0 || (prints && result.stdout.trim() === '')) {
        failures.push(`README line ${block.line} (${block.lang}): exit ${result.status}\n${result.stdout}\n${result.stderr}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
