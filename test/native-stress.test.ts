// test/native/tokenizer_stress.cc, the C++ tokenizer's stress test under ASan and UBSan, built
// with the system compiler and run by the suite, so that it cannot rot: four threads encode real
// text, random bytes and odd lengths through three tokenizers and must agree with one thread.
// The run is sized by a count of random texts (STRESS_RANDOM_TEXTS), not by time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';

const STRESS_RANDOM_TEXTS = 300;
const compiler = process.env.CXX ?? 'g++';
const reason = spawnSync(compiler, ['--version']).status === 0 ? null : `no C++ compiler (${compiler}) to build the native stress test`;
if (reason) console.warn(`native stress test skipped: ${reason}`);

/** Every .cc file under `dir` (the tokenizer sources binding.gyp compiles). */
function sources(dir: string): string[] {
  return (fs.readdirSync(path.join(repoRoot, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.cc'))
    .map((f) => path.join(repoRoot, dir, f));
}

/** The libraries binding.gyp links the addon with (utf8proc, and what the tokenizer adds later). */
function gypLibraries(): string[] {
  const gyp = fs.readFileSync(path.join(repoRoot, 'binding.gyp'), 'utf8');
  const block = /"libraries"\s*:\s*\[([^\]]*)\]/.exec(gyp)?.[1] ?? '';
  return [...block.matchAll(/"(-l[^"]+)"/g)].map((m) => m[1]!).filter((l) => l !== '-ldl');
}

describe.skipIf(reason)('native tokenizer stress test (ASan + UBSan)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tce-native-stress-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  test(`builds, and ${STRESS_RANDOM_TEXTS} random texts with the fixture corpus encode the same on four threads as on one, with nothing reported`, () => {
    const binary = path.join(out, 'tokenizer_stress');
    const build = spawnSync(compiler, [
      '-std=c++17', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', `-I${path.join(repoRoot, 'native')}`,
      path.join(repoRoot, 'test', 'native', 'tokenizer_stress.cc'), ...sources('native/tokenizer'), ...gypLibraries(), '-pthread', '-o', binary,
    ], { encoding: 'utf8' });
    expect({ status: build.status, stderr: build.stderr }).toEqual({ status: 0, stderr: '' });

    const fixtures = path.join(repoRoot, 'test', 'fixtures', 'tokenizer');
    const run = spawnSync(binary, [path.join(fixtures, 'bert_base_uncased_vocab.txt'), path.join(fixtures, 'pubmed_sample.jsonl'), String(STRESS_RANDOM_TEXTS)], {
      encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    // One line per tokenizer, each counting every encoding it compared (texts x 5 lengths x 2).
    const texts = 200 + STRESS_RANDOM_TEXTS + 3;
    expect(run.stdout.trim().split('\n')).toEqual(['bert', 'byte-level-bpe', 'metaspace-unigram'].map((name) => `ok ${name} ${texts * 10}`));
  }, 900_000);
});
