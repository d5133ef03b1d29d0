// The packages as a user gets them: `npm pack` of the main package (with the addon prebuilt by
// prebuildify and the torch cores built by setup.sh) and of the model package
// (models/biomed-minilm-ce), installed into empty projects with no compiler and no cmake on PATH:
// both tarballs with install scripts blocked (--ignore-scripts), and the main one alone with its
// scripts run. It must load its prebuilt addon and cores, score exactly as the source build does
// on Debian's libtorch 1.13 and on pip's torch 2.13, find the model package when it is installed
// and name the command that installs it when it is not, and run README.md's examples as they are
// written (type-checked in strict ES module and CommonJS projects, with and without the user's own
// @types/node, CommonJS with and without esModuleInterop: test/fixtures/ts-consumer). Every path
// README.md, --help and the library's hints name must be in the install (or, for README links,
// in the repository). One pack and one install of each per run: this is the suite's slowest file.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { coreTag } from '../lib/core';
import { findLibtorch } from '../lib/libtorch';
import { projectTorchDir } from '../scripts/torch-python.mjs';
import { repoRoot, runChild } from './helpers/child';
import { fakeLibtorch, tempDir } from './helpers/fake-libtorch';
import { fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { BUNDLED_MODEL_PACKAGE } from '../lib/bundled-model';
import {
  CONSUMER_VARIANTS, exampleSources, linkNodeTypes, prepareExamples, runExample, tsc, writeConsumer, type Examples,
} from './fixtures/ts-consumer/project';
import { existsUnder, installedPaths, libraryPaths, readmePaths, REPOSITORY_URL } from './helpers/named-paths';

const npmCli = (() => {
  const npm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  const cli = npm ? path.join(path.dirname(fs.realpathSync(npm)), 'npm-cli.js') : '';
  return fs.existsSync(cli) ? cli : null;
})();
const torch2 = projectTorchDir('st6');
const reason = modelTestsSkipReason() ?? (npmCli ? null : 'npm-cli.js not found next to npm') ??
  (torch2 ? null : 'no .venv torch 2.13 (run scripts/setup.sh)');
if (reason) console.warn(`package tests skipped: ${reason}`);

function newestNativeSource(): number {
  const files = [path.join(repoRoot, 'binding.gyp')];
  const walk = (dir: string) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : files.push(path.join(dir, e.name)));
  walk(path.join(repoRoot, 'native'));
  return Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
}

/** When the prebuild for this platform was built (0 if there is none). */
function prebuildAge(): number {
  const dir = path.join(repoRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  const built = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  return built.length > 0 ? Math.min(...built.map((f) => fs.statSync(path.join(dir, f)).mtimeMs)) : 0;
}

/**
 * A PATH holding only `node`, `sh` (npm runs scripts with it) and `npx` (README's command-line
 * examples): no cc, c++, cmake, make or python3.
 */
function bareBin(): string {
  const bin = tempDir('bare-bin');
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const npx = spawnSync('sh', ['-c', 'command -v npx'], { encoding: 'utf8' }).stdout.trim();
  if (npx) fs.symlinkSync(fs.realpathSync(npx), path.join(bin, 'npx'));
  return bin;
}

/** The packed size and file count `npm pack --json` reports, and the tarball it wrote. */
interface Packed { filename: string; size: number; unpackedSize: number; entryCount: number }

function pack(args: string[], out: string): Packed {
  const result = spawnSync(process.execPath, [npmCli!, 'pack', '--json', '--ignore-scripts', '--pack-destination', out, ...args],
    { cwd: repoRoot, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) throw new Error(`npm pack ${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  const [packed] = JSON.parse(result.stdout) as Packed[];
  return { ...packed, filename: path.join(out, packed.filename) };
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv): void {
  const result = spawnSync(process.execPath, [npmCli!, ...args], { cwd, env, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
}

const pairs: Array<[string, string]> = [
  ['What does CYP1A2 metabolize?', 'Caffeine is metabolized mainly by CYP1A2 in the liver.'],
  ['BRCA1 function', 'BRCA1 takes part in homologous recombination repair of DNA double-strand breaks.'],
  ['', ''],
];

/** Scores `pairs` with the package found at `packagePath` (the bundled model when `modelDir` is undefined), and reports what it loaded. */
function scoreWith(packagePath: string, modelDir: string | undefined, env: NodeJS.ProcessEnv) {
  const program = `
    const pkg = require(${JSON.stringify(packagePath)});
    (async () => {
      const info = pkg.runtimeInfo();
      const model = await pkg.CrossEncoder.load(${modelDir === undefined ? 'undefined' : JSON.stringify(modelDir)}, { device: 'cpu' });
      const scores = Array.from(await model.predict(${JSON.stringify(pairs)}));
      await model.dispose();
      console.log(JSON.stringify({ core: info.core.path, libtorch: info.libtorch.version, scores }));
    })().catch((e) => { console.log(JSON.stringify({ error: e.code + ': ' + e.message })); });`;
  const result = spawnSync(process.execPath, ['-e', program], { env, encoding: 'utf8', timeout: 120_000 });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as { core?: string; libtorch?: string; scores?: number[]; error?: string };
  } catch {
    throw new Error(`no result (exit ${result.status}): ${result.stdout}\n${result.stderr}`);
  }
}

describe.skipIf(reason)('the packed packages, installed as a user installs them', () => {
  let main: Packed;
  let model: Packed;
  let listing: string[];
  let modelListing: string[];
  let modelDir: string;
  let examples: Examples;
  const installs: Record<'blocked' | 'scripts', string> = { blocked: '', scripts: '' };
  const bin = bareBin();
  const userEnv = (extra: NodeJS.ProcessEnv = {}) => ({ HOME: process.env.HOME, PATH: bin, ...extra });
  const tarList = (tarball: string) => execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' })
    .split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));

  beforeAll(() => {
    modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    // The addon as released: prebuildify's N-API build for this platform, rebuilt when a native
    // source is newer than it (a stale prebuild would be tested in place of the code).
    if (prebuildAge() < newestNativeSource()) npm(['run', 'build:prebuilds'], repoRoot, process.env);
    const out = tempDir('pack');
    main = pack([], out);
    model = pack(['--workspace', 'models/biomed-minilm-ce'], out);
    listing = tarList(main.filename);
    modelListing = tarList(model.filename);
    console.log(`packed: ${path.basename(main.filename)} ${main.size} bytes (${main.unpackedSize} unpacked, ${main.entryCount} files); ` +
      `${path.basename(model.filename)} ${model.size} bytes (${model.unpackedSize} unpacked, ${model.entryCount} files)`);
    for (const mode of ['blocked', 'scripts'] as const) {
      const project = tempDir(`consumer-${mode}`);
      fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: `consumer-${mode}`, private: true }));
      const flags = ['install', '--no-audit', '--no-fund', '--prefer-offline'];
      // No compiler, cmake or python3 on PATH: with scripts, node-gyp-build must find the prebuild
      // and build-core must find the core for the libtorch there, or the install would fail.
      // Scripts blocked, the model package is installed too; with scripts, the main package alone.
      npm(mode === 'blocked' ? [...flags, '--ignore-scripts', main.filename, model.filename] : [...flags, main.filename], project,
        userEnv({ npm_config_cache: process.env.npm_config_cache }));
      installs[mode] = path.join(project, 'node_modules', 'torch-cross-encoder');
    }
    // README's examples, in the project with both packages (its @types/node is the one the
    // package's dependency installed), and in a project for each other tsconfig setting.
    const blockedProject = path.resolve(installs.blocked, '..', '..');
    linkNodeTypes(path.join(blockedProject, 'node_modules'));
    examples = prepareExamples(blockedProject, true);
    for (const { name, kind, settings } of CONSUMER_VARIANTS) {
      if (name !== kind) writeConsumer(kind, path.join(blockedProject, name), exampleSources(kind, true), settings);
    }
  });

  test('the main tarball holds what a user needs and nothing else; the model is its own tarball', () => {
    const files = listing;
    const platform = `${process.platform}-${process.arch}`;
    expect(files).toEqual(expect.arrayContaining([
      'package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'dist/server/server.d.ts',
      'scripts/build-core.mjs', 'scripts/export.py', 'scripts/export_arch.py', 'binding.gyp', 'CMakeLists.txt',
      // The docs the README and --help point to, and the deployment examples.
      'docs/SERVER.md', 'docs/CLI.md', 'docs/EXPORT.md', 'deploy/Dockerfile',
      // export.py's module chains and causal-LM head (imported as the package `export`)
      'scripts/export/__init__.py', 'scripts/export/plan.py', 'scripts/export/load.py', 'scripts/export/modules.py',
      'scripts/export/causal_lm.py',
    ]));
    expect(files.filter((f) => f.includes('__pycache__'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('models/') || f.endsWith('.pt'))).toEqual([]);
    // The size budget that keeps the model out (it alone is 67 MB): prebuilt addon and cores fit in 2 MB.
    expect(main.size).toBeLessThan(2 * 1024 * 1024);
    expect(modelListing.sort()).toEqual([
      'LICENSE', 'NOTICE', 'README.md', 'config.json', 'config_sentence_transformers.json', 'model.pt', 'package.json',
      'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'training.json', 'vocab.txt',
    ]);
    expect(files.some((f) => f.startsWith(`prebuilds/${platform}/`) && f.endsWith('.node'))).toBe(true);
    for (const dir of [undefined, torch2, projectTorchDir('cuda')]) {
      if (dir === null) continue;
      const tag = coreTag(findLibtorch({ libtorch: dir, env: dir ? {} : { PATH: '' } }));
      expect(files).toEqual(expect.arrayContaining([`cores/${tag}/libtce_torch.so`, `cores/${tag}/core.json`]));
    }
    const unwanted = files.filter((f) => /^(test|build|build-core|bench|\.venv[^/]*|node_modules)\//.test(f) ||
      f.endsWith('.map') || f === 'scripts/setup.sh' || f.startsWith('scripts/bench/') || f.startsWith('scripts/device/'));
    expect(unwanted).toEqual([]);
  });

  test('an install brings only run-time dependencies: no cmake-js, no model package unless asked for', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installs.scripts, 'package.json'), 'utf8'));
    // @types/node: the package's declarations use Node's types (README, *Quick start*).
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@huggingface/jinja', '@types/node', 'node-addon-api', 'node-gyp-build', 'prom-client']);
    for (const mode of ['blocked', 'scripts'] as const) {
      const nodeModules = path.dirname(installs[mode]);
      expect(fs.existsSync(path.join(nodeModules, 'cmake-js'))).toBe(false);
      expect(fs.existsSync(path.join(nodeModules, ...BUNDLED_MODEL_PACKAGE.split('/')))).toBe(mode === 'blocked');
    }
  });

  test('installed without install scripts and without a compiler, it scores as the source build on libtorch 1.13 and 2.13', () => {
    for (const mode of ['blocked', 'scripts'] as const) {
      const installed = installs[mode];
      // Nothing was compiled: the addon comes from prebuilds/.
      expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
      for (const libtorch of [undefined, torch2!]) {
        const env = userEnv(libtorch ? { TCE_LIBTORCH: libtorch } : {});
        const ours = scoreWith(installed, modelDir, env);
        const source = scoreWith(path.join(repoRoot, 'dist', 'index.js'), modelDir, env);
        expect(ours.error).toBeUndefined();
        expect(source.error).toBeUndefined();
        expect(ours.core!.startsWith(path.join(installed, 'cores'))).toBe(true);
        expect(ours.libtorch).toBe(source.libtorch);
        expect(ours.scores).toEqual(source.scores);
      }
    }
    // The ready-made model, loaded with no directory, from the model package installed beside it.
    const bundled = scoreWith(installs.blocked, undefined, userEnv());
    expect(bundled.error).toBeUndefined();
    expect(bundled.scores).toEqual(scoreWith(path.join(repoRoot, 'dist', 'index.js'), undefined, userEnv()).scores);
    const dir = runChild(`report(require(${JSON.stringify(installs.blocked)}).bundledModelDir());`, userEnv()).report;
    expect(dir).toBe(path.join(path.dirname(installs.blocked), ...BUNDLED_MODEL_PACKAGE.split('/')));
  });

  test('without the model package, load() and the CLI name the npm command that installs it', () => {
    const loaded = scoreWith(installs.scripts, undefined, userEnv());
    expect(loaded.error).toContain('TCE_MODEL_DIR');
    expect(loaded.error).toContain(`npm install ${BUNDLED_MODEL_PACKAGE}`);
    const cli = path.join(installs.scripts, '..', '.bin', 'torch-cross-encoder');
    const docs = path.join(tempDir('docs'), 'docs.jsonl');
    fs.writeFileSync(docs, '"CYP1A2 metabolizes caffeine."\n');
    const rank = spawnSync(cli, ['rank', 'biomed-minilm-ce', '--query', 'q', docs], { env: userEnv(), encoding: 'utf8' });
    expect(rank.status).not.toBe(0);
    expect(rank.stderr).toContain(`npm install ${BUNDLED_MODEL_PACKAGE}`);
  });

  test.each(CONSUMER_VARIANTS)('README.md\'s TypeScript examples and the API type cases compile: $name', ({ name }) => {
    const result = tsc(path.join(path.resolve(installs.blocked, '..', '..'), name));
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  test('every path README.md, --help and the error hints name is in the installed package (or linked in the repository)', () => {
    const project = path.resolve(installs.blocked, '..', '..');
    const readme = fs.readFileSync(path.join(installs.blocked, 'README.md'), 'utf8');
    const named = readmePaths(readme);
    expect(named.length).toBeGreaterThan(10);
    // build/Release/tce.node is what a source build makes (README, *How it is built*); it is never shipped.
    const missing = named.filter((p) => p.path !== 'build/Release/tce.node' &&
      !(p.inRepository ? existsUnder(repoRoot, p.path) : existsUnder(installs.blocked, p.path)));
    expect(missing).toEqual([]);
    const cli = path.join(project, 'node_modules', '.bin', 'torch-cross-encoder');
    const help = ['--help', ...['info', 'score', 'rank', 'serve', 'build-core', 'export', 'help'].map((c) => `${c} --help`)]
      .map((args) => spawnSync(cli, args.split(' '), { env: userEnv(), encoding: 'utf8' }).stdout).join('\n');
    const helpPaths = installedPaths(help);
    expect(helpPaths).toEqual(expect.arrayContaining(['docs/SERVER.md', 'docs/EXPORT.md', 'docs/']));
    expect(helpPaths.filter((p) => !existsUnder(installs.blocked, p))).toEqual([]);
    expect(help).toContain(`${REPOSITORY_URL}#readme`);
    const manifest = JSON.parse(fs.readFileSync(path.join(installs.blocked, 'package.json'), 'utf8'));
    expect(manifest.homepage).toBe(`${REPOSITORY_URL}#readme`);
    expect(manifest.bugs.url).toBe(`${REPOSITORY_URL}/issues`);
    const modelManifest = JSON.parse(fs.readFileSync(path.join(path.dirname(installs.blocked), ...BUNDLED_MODEL_PACKAGE.split('/'), 'package.json'), 'utf8'));
    expect(modelManifest.repository).toMatchObject({ url: `git+${REPOSITORY_URL}.git`, directory: 'models/biomed-minilm-ce' });
    expect(existsUnder(repoRoot, modelManifest.repository.directory)).toBe(true);
    expect(modelManifest.bugs.url).toBe(`${REPOSITORY_URL}/issues`);
    const hinted = libraryPaths(path.join(repoRoot, 'lib'));
    expect(hinted).toEqual(expect.arrayContaining(['docs/EXPORT.md', 'scripts/export.py']));
    expect(hinted.filter((p) => !existsUnder(installs.blocked, p))).toEqual([]);
  });

  test('README.md\'s examples run as written in the project that installed both tarballs', () => {
    const env = userEnv({ npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_cache: process.env.npm_config_cache });
    const failures: string[] = [];
    for (const block of [...examples.ts, ...examples.js, ...examples.sh]) {
      const result = runExample(examples, block, env);
      if (result.status !== 0) failures.push(`README line ${block.line} (${block.lang}): exit ${result.status}\n${result.stdout}\n${result.stderr}`);
    }
    expect(failures).toEqual([]);
    expect(examples.ts.length + examples.js.length + examples.sh.length).toBeGreaterThanOrEqual(6);
  });

  test('a libtorch without a prebuilt core gets the one command that builds it, which exists in the install', () => {
    const fake = fakeLibtorch('2.99.1+cu131', { cuda: true });
    const r = runChild(`require(${JSON.stringify(installs.blocked)}).runtimeInfo();`, { ...userEnv(), TCE_LIBTORCH: fake });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_NOT_FOUND');
    expect(r.report.thrown.message).toContain('libtorch 2.99.1+cu131 (CUDA 13.1)');
    expect(r.report.thrown.message).toContain(`npx torch-cross-encoder build-core --libtorch ${path.join(fake, 'lib')}`);
    const cli = path.join(installs.blocked, '..', '.bin', 'torch-cross-encoder');
    const info = spawnSync(cli, ['info', '--json'], { env: userEnv(), encoding: 'utf8' });
    expect(info.status).toBe(0);
    expect(JSON.parse(info.stdout).core.path.startsWith(path.join(installs.blocked, 'cores'))).toBe(true);
    // build-core runs from the install (here it stops at once: the fake libtorch has no CMake config).
    const build = spawnSync(cli, ['build-core', '--libtorch', fake], { env: userEnv(), encoding: 'utf8' });
    expect(build.status).toBe(1);
    expect(build.stderr).toContain('has no CMake config (Torch/TorchConfig.cmake)');
    // For a real libtorch it gets as far as cmake-js, a development tool the install lacks, and
    // says which command adds it (before anything is built).
    const project = path.resolve(installs.blocked, '..', '..');
    const real = spawnSync(cli, ['build-core'], { env: userEnv(), encoding: 'utf8' });
    expect(real.status).toBe(1);
    expect(real.stderr).toContain(`cd ${project} && npm install --save-dev cmake-js@^8.0.0`);
  });
});
