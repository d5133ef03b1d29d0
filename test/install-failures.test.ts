// What a user meets when the package's binary is missing, and the guard that keeps a release from
// shipping without it. A copy of the built package (dist/, package.json) stands in
// node_modules/torch-cross-encoder of an empty project, with or without prebuilds/ and a build/
// folder (what a source build leaves), so that each case of the addon-not-found error is met as a
// user meets it. The prepack guard (scripts/prepack-check.mjs) runs as `npm pack` runs it, in a
// copy of package.json and the guard, with and without prebuilds/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';

/** An empty project that has the built package as node_modules/torch-cross-encoder, and its dependencies linked. */
function installedCopy(): { project: string; pkg: string } {
  const project = tempDir('addon-missing');
  const modules = path.join(project, 'node_modules');
  const pkg = path.join(modules, 'torch-cross-encoder');
  fs.mkdirSync(pkg, { recursive: true });
  fs.cpSync(path.join(repoRoot, 'dist'), path.join(pkg, 'dist'), { recursive: true, filter: (f) => !f.endsWith('.map') });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(pkg, 'package.json'));
  for (const dep of ['node-gyp-build', 'prom-client', '@huggingface/jinja']) {
    const target = path.join(modules, dep);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.symlinkSync(fs.realpathSync(path.join(repoRoot, 'node_modules', dep)), target, 'dir');
  }
  return { project, pkg };
}

/** Loads the addon in the copy (what every model load and tokenizer does first); the error's code and message. */
function loadAddon(pkg: string): { code?: string; message?: string } {
  const program = `try { require(${JSON.stringify(path.join(pkg, 'dist', 'native.js'))}).native(); console.log('{}'); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const result = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}');
}

describe('the addon-not-found error says what was tried and the fix', () => {
  let copy: { project: string; pkg: string };
  beforeEach(() => {
    copy = installedCopy();
  });

  test('no prebuild and no source build (install scripts blocked): both said, and the rebuild command for this project', () => {
    const error = loadAddon(copy.pkg);
    expect(error.code).toBe('TCE_ADDON_NOT_FOUND');
    expect(error.message).toContain(`there is no prebuilt addon for ${process.platform}-${process.arch} (this copy of the package has no prebuilds/)`);
    expect(error.message).toContain('no source build was attempted (the package\'s install script did not run');
    expect(error.message).toContain(`\`cd ${copy.project} && npm rebuild torch-cross-encoder\``);
    expect(error.message).toContain('apt-get install build-essential python3 libutf8proc-dev libonig-dev');
    expect(error.message).not.toMatch(/^torch-cross-encoder:/);
  });

  test('a source build that left no binary is said to have been attempted', () => {
    fs.mkdirSync(path.join(copy.pkg, 'build'));
    const error = loadAddon(copy.pkg);
    expect(error.code).toBe('TCE_ADDON_NOT_FOUND');
    expect(error.message).toContain(`a source build was attempted (${path.join(copy.pkg, 'build')} exists) and did not produce build/Release/tce.node`);
  });

  test('a prebuild for another libc is named, with what this system is', () => {
    const dir = path.join(copy.pkg, 'prebuilds', `${process.platform}-${process.arch}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'node.napi.musl.node'), '');
    const error = loadAddon(copy.pkg);
    expect(error.message).toContain(`the prebuilds for ${process.platform}-${process.arch} (node.napi.musl.node) do not fit this system`);
    expect(error.message).toContain('libc=glibc');
  });

  test('a prebuild the loader refuses: its reason, the glibc the prebuild needs and the source build', () => {
    const dir = path.join(copy.pkg, 'prebuilds', `${process.platform}-${process.arch}`);
    fs.mkdirSync(dir, { recursive: true });
    const binary = path.join(dir, 'node.napi.glibc.node');
    fs.writeFileSync(binary, 'not an ELF file');
    const error = loadAddon(copy.pkg);
    expect(error.code).toBe('TCE_ADDON_NOT_FOUND');
    expect(error.message).toContain(`The native addon ${binary} did not load:`);
    expect(error.message).toContain('glibc 2.34 or later (GLIBC_2.34, GLIBCXX_3.4.30');
    expect(error.message).toContain('npm rebuild torch-cross-encoder');
  });

  test('the CLI prints it with one prefix', () => {
    // With the cores, `info` gets past libtorch and the core to the addon, which loads the core.
    fs.symlinkSync(path.join(repoRoot, 'cores'), path.join(copy.pkg, 'cores'), 'dir');
    const result = spawnSync(process.execPath, [path.join(copy.pkg, 'dist', 'cli.js'), 'info'],
      { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^torch-cross-encoder: The native addon was not found in /);
    expect(result.stderr).not.toContain('torch-cross-encoder: torch-cross-encoder:');
  });
});

describe('npm pack refuses a package without the prebuilt addon (prepack)', () => {
  const npmCli = path.join(path.dirname(fs.realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim())), 'npm-cli.js');

  /** A folder with the package's package.json (its prepare step left out: it compiles) and the guard. */
  function packable(): string {
    const dir = tempDir('prepack');
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    delete manifest.scripts.prepare;
    delete manifest.workspaces;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(repoRoot, 'scripts', 'prepack-check.mjs'), path.join(dir, 'scripts', 'prepack-check.mjs'));
    return dir;
  }

  function pack(dir: string) {
    const out = tempDir('prepack-out');
    const result = spawnSync(process.execPath, [npmCli, 'pack', '--pack-destination', out], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return { status: result.status, stderr: result.stderr, tarballs: fs.readdirSync(out) };
  }

  test('without prebuilds/linux-x64 it exits non-zero, names the fix and writes no tarball; with it, it packs', () => {
    const dir = packable();
    const refused = pack(dir);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('refusing to pack: there is no prebuilt addon in prebuilds/linux-x64/');
    expect(refused.stderr).toContain('npm run build:prebuilds');
    expect(refused.tarballs).toEqual([]);

    fs.mkdirSync(path.join(dir, 'prebuilds', 'linux-x64'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'prebuilds', 'linux-x64', 'node.napi.glibc.node'), 'binary');
    const packed = pack(dir);
    expect(packed.stderr).not.toContain('refusing');
    expect(packed.status).toBe(0);
    expect(packed.tarballs).toEqual(['torch-cross-encoder-0.1.0.tgz']);
  });

  test('a prebuild older than the native sources is refused too', () => {
    const dir = packable();
    fs.mkdirSync(path.join(dir, 'prebuilds', 'linux-x64'), { recursive: true });
    const binary = path.join(dir, 'prebuilds', 'linux-x64', 'node.napi.glibc.node');
    fs.writeFileSync(binary, 'binary');
    fs.writeFileSync(path.join(dir, 'binding.gyp'), '{}');
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(binary, old, old);
    const refused = pack(dir);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('is older than the native sources');
    expect(refused.tarballs).toEqual([]);
  });
});
