// The torch-cross-encoder command as a user runs it (child processes of dist/cli.js): help and
// version, argument errors that name the flag, `-` for stdin and stdout, a byte order mark, long
// lines, an output that is the input, an output that fails (disk full, file size limit), rank
// with no documents, and the threads `info` reports.
import { spawnSync } from 'node:child_process';
import { constants } from 'node:buffer';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const reason = modelTestsSkipReason();
if (reason) console.warn(`cli usage tests with a model skipped: ${reason}`);

function run(args: string[], input?: string | Buffer) {
  return spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', timeout: 120_000 });
}

function jsonLines(text: string): any[] {
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** Every option of each command, written out here (not read from the CLI's own table). */
const OPTIONS: Record<string, string[]> = {
  info: ['--json', '--help'],
  score: ['--output', '--skip-bad', '--raw-scores', '--chunk', '--long-documents', '--window-tokens', '--stride', '--max-line-bytes', '--device', '--precision', '--max-length', '--batch-size', '--max-batch-tokens', '--cpu-threads', '--help'],
  rank: ['--query', '--top-k', '--return-documents', '--raw-scores', '--long-documents', '--window-tokens', '--stride', '--return-passage', '--output', '--max-line-bytes', '--device', '--precision', '--max-length', '--batch-size', '--max-batch-tokens', '--cpu-threads', '--help'],
  serve: ['--port', '--host', '--max-concurrent-requests', '--max-client-batch-size', '--payload-limit', '--api-key', '--cors-allow-origin', '--model-id', '--json-output', '--headers-timeout', '--request-timeout', '--max-windows-per-request', '--window-tokens', '--max-connections', '--keep-alive-timeout', '--shutdown-timeout', '--device', '--precision', '--max-length', '--batch-size', '--max-batch-tokens', '--cpu-threads', '--help'],
  'build-core': ['--libtorch', '--help'],
  export: ['--python', '--help'],
  help: ['--help'],
};
/** Options with a default, and the default the help must show. */
const DEFAULTS: Record<string, Record<string, string>> = {
  score: { '--chunk': '1024', '--max-line-bytes': String(4 * 1024 * 1024), '--device': 'auto', '--output': 'stdout' },
  serve: { '--port': '8080', '--host': '127.0.0.1', '--max-concurrent-requests': '512', '--max-client-batch-size': '32', '--payload-limit': '2000000', '--shutdown-timeout': '25', '--headers-timeout': '10', '--request-timeout': '30', '--max-windows-per-request': '256', '--max-connections': '512', '--keep-alive-timeout': '65' },
};

describe('torch-cross-encoder: help, version, argument errors', () => {
  test('--version prints package.json\'s version; --help, help and help COMMAND exit 0', () => {
    const version = run(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
    for (const args of [['--help'], ['help'], ['-h']]) {
      const r = run(args);
      expect({ args, status: r.status }).toEqual({ args, status: 0 });
      for (const command of Object.keys(OPTIONS)) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(run([]).status).toBe(2);
    expect(run(['help', 'nope']).stderr).toContain('unknown command "nope"');
  });

  test.each(Object.keys(OPTIONS))('%s: COMMAND --help and help COMMAND list every option, with its default, and exit 0', (command) => {
    const viaFlag = run([command, '--help']);
    const viaHelp = run(['help', command]);
    expect(viaFlag.status).toBe(0);
    expect(viaHelp.status).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    // An entry: its flag line, and the description's line when the flag's is long.
    const entries = new Map<string, string>();
    let current = '';
    for (const line of viaFlag.stdout.split('\n')) {
      const flag = /^ {2}(?:-\w, | {4})(--[a-z-]+)/.exec(line)?.[1];
      if (flag) entries.set((current = flag), line);
      else if (current && /^ {10,}\S/.test(line)) entries.set(current, `${entries.get(current)} ${line.trim()}`);
      else current = '';
    }
    expect([...entries.keys()]).toEqual(OPTIONS[command]);
    for (const [flag, text] of entries) expect({ flag, described: text.replace(/^\s*(-\w, )?--[a-z-]+( \S+)?/, '').trim().length > 10 }).toEqual({ flag, described: true });
    for (const [flag, value] of Object.entries(DEFAULTS[command] ?? {})) {
      expect({ flag, entry: entries.get(flag) }).toEqual({ flag, entry: expect.stringContaining(`(default: ${value})`) });
    }
  });

  test('docs/CLI.md holds each command\'s help as it prints it', () => {
    const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'CLI.md'), 'utf8');
    for (const command of Object.keys(OPTIONS)) expect({ command, inDoc: doc.includes(`\`\`\`\n${run([command, '--help']).stdout}\`\`\``) }).toEqual({ command, inDoc: true });
  });

  test('an extra positional argument, an unknown option and a bad number are usage errors (2) that name them', () => {
    const extra = run(['info', 'surplus']);
    expect(extra.status).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "surplus"');
    const extraScore = run(['score', 'model', 'in.jsonl', 'another.jsonl']);
    expect(extraScore.status).toBe(2);
    expect(extraScore.stderr).toContain('unexpected argument "another.jsonl"');
    expect(extraScore.stderr).toContain('score --help');
    const unknown = run(['rank', 'model', '--frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--frobnicate'");
    const notNumber = run(['score', 'model', '--batch-size', 'many']);
    expect(notNumber.status).toBe(2);
    expect(notNumber.stderr).toContain('--batch-size must be a whole number, got "many"');
    const seconds = run(['serve', 'model', '--shutdown-timeout', 'soon']);
    expect(seconds.status).toBe(2);
    expect(seconds.stderr).toContain('--shutdown-timeout must be a number of seconds');
  });

  test('--max-line-bytes: bounded by the longest string V8 holds (buffer.constants.MAX_STRING_LENGTH), refused before the model loads', () => {
    const limit = constants.MAX_STRING_LENGTH - 1;
    for (const command of [['score', 'no-such-model'], ['rank', 'no-such-model', '-', '--query', 'q']]) {
      const over = run([...command, '--max-line-bytes', String(limit + 1)]);
      expect({ command, status: over.status }).toEqual({ command, status: 2 });
      expect(over.stderr).toContain(`--max-line-bytes must be from 1 to ${limit} (the longest string this Node can hold, buffer.constants.MAX_STRING_LENGTH, less one), got ${limit + 1}`);
    }
    // The largest is accepted: the command goes on to the model (which does not exist).
    const largest = run(['score', path.join(os.tmpdir(), 'no-such-model-dir'), '--max-line-bytes', String(limit)]);
    expect(largest.status).toBe(1);
    expect(largest.stderr).not.toContain('--max-line-bytes');
  });

  test('serve limits: --max-windows-per-request, --max-connections at least 1, --keep-alive-timeout in seconds, in flag names', () => {
    for (const [flag, value, says] of [
      ['--max-windows-per-request', '0', '--max-windows-per-request must be an integer >= 1, got 0'],
      ['--max-connections', '0', '--max-connections must be an integer >= 1, got 0'],
      ['--keep-alive-timeout', '2147484', '--keep-alive-timeout must be a number of seconds from '],
    ]) {
      const r = run(['serve', 'no-such-model', flag!, value!]);
      expect({ flag, status: r.status }).toEqual({ flag, status: 2 });
      expect(r.stderr).toContain(says);
    }
  });

  test('serve timeouts: bounded by what Node\'s timers keep (2147483.647 s), errors in seconds and flag names, before the model loads', () => {
    for (const [flag, value] of [['--shutdown-timeout', '3000000'], ['--request-timeout', '2147484'], ['--headers-timeout', '1e10']]) {
      const r = run(['serve', 'no-such-model', flag, value]);
      expect({ flag, status: r.status }).toEqual({ flag, status: 2 });
      expect(r.stderr).toContain(`${flag} must be a number of seconds from `);
      expect(r.stderr).toContain(` to 2147483.647, got "${value}"`);
      expect(r.stderr).not.toMatch(/TimeoutMs|\bms\b/);
    }
    const order = run(['serve', 'no-such-model', '--headers-timeout', '60', '--request-timeout', '30']);
    expect(order.status).toBe(2);
    expect(order.stderr).toContain('--headers-timeout must not be longer than --request-timeout');
    expect(order.stderr).not.toMatch(/TimeoutMs|\bms\b/);
    // The longest is accepted: the command goes on to the model (which does not exist).
    const longest = run(['serve', path.join(os.tmpdir(), 'no-such-model-dir'), '--shutdown-timeout', '2147483.647', '--request-timeout', '2147483.647']);
    expect(longest.status).toBe(1);
    expect(longest.stderr).not.toContain('timeout');
  });
});

describe.skipIf(reason)('torch-cross-encoder: files, stdin and stdout', () => {
  let modelDir: string;
  let expected: Float32Array;
  const pairs = bioasqPairs(30);
  const dir = tempDir('cli-usage');
  const pairLines = pairs.map((p) => JSON.stringify(p));

  beforeAll(async () => {
    modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const model = await CrossEncoder.load(modelDir, { device: 'cpu' });
    expected = (await model.predict(pairs)) as Float32Array;
    await model.dispose();
  });

  function checkScores(rows: any[], count: number) {
    expect(rows.map((r) => r.line)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    rows.forEach((r, i) => expect(Math.abs(r.score - expected[i])).toBeLessThanOrEqual(1e-5));
  }

  test('library option errors name the flag: --batch-size 0, --max-length 2, --device gpu', () => {
    for (const [flag, value] of [['--batch-size', '0'], ['--max-length', '2'], ['--device', 'gpu'], ['--cpu-threads', '0']]) {
      const r = run(['score', modelDir, '-', flag, value], '');
      expect({ flag, status: r.status }).toEqual({ flag, status: 2 });
      expect(r.stderr).toContain(flag);
      expect(r.stderr).not.toMatch(/\b(batchSize|maxLength|cpuThreads)\b/);
    }
  });

  test('- is stdin and stdout (score IN -o -, rank ... -); a UTF-8 BOM on line 1 is skipped', () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(pairLines.join('\r\n') + '\r\n')]);
    const scored = run(['score', modelDir, '-', '-o', '-', '--device', 'cpu'], bom);
    expect(scored.stderr).toBe('');
    expect(scored.status).toBe(0);
    checkScores(jsonLines(scored.stdout), pairs.length);
    const docs = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(pairs.slice(0, 5).map(([, d]) => JSON.stringify(d)).join('\n'))]);
    const ranked = run(['rank', modelDir, '--query', pairs[0][0], '-', '--device', 'cpu', '-o', '-'], docs);
    expect(ranked.status).toBe(0);
    expect(jsonLines(ranked.stdout).map((r) => r.corpusId).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  test('rank with no documents says so, and loads nothing', () => {
    const empty = path.join(dir, 'empty.jsonl');
    fs.writeFileSync(empty, '\n  \n');
    for (const [args, input] of [[[empty], undefined], [['-'], '']] as Array<[string[], string | undefined]>) {
      const r = run(['rank', path.join(dir, 'no-such-model'), '--query', 'q', ...args], input);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/no documents in (.*empty\.jsonl|stdin): nothing to rank/);
    }
  });

  test('score IN -o IN, through a symbolic or a hard link, or from stdin: refused before anything is written', () => {
    const input = path.join(dir, 'same.jsonl');
    fs.writeFileSync(input, pairLines.join('\n'));
    const symlink = path.join(dir, 'same-link.jsonl');
    const hardlink = path.join(dir, 'same-hard.jsonl');
    fs.symlinkSync(input, symlink);
    fs.linkSync(input, hardlink);
    for (const output of [input, symlink, hardlink]) {
      const r = run(['score', modelDir, input, '-o', output]);
      expect({ output, status: r.status }).toEqual({ output, status: 2 });
      expect(r.stderr).toContain('is the input file');
    }
    const fromStdin = spawnSync('sh', ['-c', `"${process.execPath}" "${cli}" score "${modelDir}" - -o "${input}" < "${input}"`], { encoding: 'utf8' });
    expect(fromStdin.status).toBe(2);
    expect(fs.readFileSync(input, 'utf8')).toBe(pairLines.join('\n'));
  });

  test('output paths are checked before the model loads', () => {
    const input = path.join(dir, 'in.jsonl');
    fs.writeFileSync(input, pairLines.join('\n'));
    const r = run(['score', path.join(dir, 'no-such-model'), input, '-o', path.join(dir, 'no-folder', 'out.jsonl')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no-folder does not exist/);
    const folder = run(['score', path.join(dir, 'no-such-model'), input, '-o', dir]);
    expect(folder.stderr).toContain('is a folder');
  });

  test('an output that fails: /dev/full reports 0 lines; a file that hits its size limit is cut to its last whole line, which the report counts', () => {
    const input = path.join(dir, 'many.jsonl');
    fs.writeFileSync(input, pairLines.join('\n') + '\n');
    const full = run(['score', modelDir, input, '-o', '/dev/full', '--device', 'cpu']);
    expect(full.status).toBe(1);
    expect(full.stderr).toMatch(/cannot write \/dev\/full: ENOSPC.*; 0 lines reached it/);
    const toStdout = spawnSync('sh', ['-c', `"${process.execPath}" "${cli}" score "${modelDir}" "${input}" --device cpu > /dev/full`], { encoding: 'utf8' });
    expect(toStdout.status).toBe(1);
    expect(toStdout.stderr).toMatch(/cannot write stdout: ENOSPC.*; 0 lines reached it/);
    // RLIMIT_FSIZE (1 KiB) makes the kernel write part of a chunk, then fail with EFBIG.
    const out = path.join(dir, 'limited.jsonl');
    const limited = spawnSync('bash', ['-c', `ulimit -f 1; trap '' XFSZ; exec "${process.execPath}" "${cli}" score "${modelDir}" "${input}" -o "${out}" --chunk 4 --device cpu`], { encoding: 'utf8' });
    expect(limited.status).toBe(1);
    const reported = Number(/EFBIG.*; (\d+) lines reached it, and it ends with the last of them/.exec(limited.stderr)?.[1]);
    const text = fs.readFileSync(out, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const rows = jsonLines(text);
    expect(rows.length).toBe(reported);
    expect(reported).toBeGreaterThan(0);
    expect(reported).toBeLessThan(pairs.length);
    checkScores(rows, reported);
  });

  test('stdout appending to a file (>>) that hits its size limit: the earlier content stays whole, then the lines the report counts', () => {
    const input = path.join(dir, 'many-append.jsonl');
    fs.writeFileSync(input, pairLines.join('\n') + '\n');
    const out = path.join(dir, 'appended.jsonl');
    // Earlier content, e.g. a previous run's results: 300 bytes, not a multiple of any line length.
    const earlier = `${JSON.stringify({ earlier: 'x'.repeat(270) })}\n`;
    fs.writeFileSync(out, earlier);
    expect(Buffer.byteLength(earlier)).toBeGreaterThan(250);
    // RLIMIT_FSIZE 1 KiB: the appended lines fill the rest of the first KiB, then EFBIG.
    const limited = spawnSync('bash', ['-c', `ulimit -f 1; trap '' XFSZ; exec "${process.execPath}" "${cli}" score "${modelDir}" "${input}" --chunk 4 --device cpu >> "${out}"`], { encoding: 'utf8' });
    expect(limited.status).toBe(1);
    const reported = Number(/cannot write stdout: EFBIG.*; (\d+) lines reached it, and it ends with the last of them/.exec(limited.stderr)?.[1]);
    const text = fs.readFileSync(out, 'utf8');
    expect(text.startsWith(earlier)).toBe(true);
    const appended = text.slice(earlier.length);
    expect(appended.endsWith('\n')).toBe(true);
    const rows = jsonLines(appended);
    expect(reported).toBeGreaterThan(0);
    expect(rows.length).toBe(reported);
    checkScores(rows, reported);
  });

  test('--max-line-bytes: a longer line is a bad line (named, or an error row with --skip-bad), not a crash; the default holds 8 MB lines off', () => {
    const lines = [...pairLines.slice(0, 3)];
    lines.splice(1, 0, JSON.stringify(['q', 'x'.repeat(500)]));
    const input = path.join(dir, 'long.jsonl');
    fs.writeFileSync(input, lines.join('\n'));
    const stopped = run(['score', modelDir, input, '--max-line-bytes', '300', '--device', 'cpu']);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain('line 2: longer than 300 bytes (--max-line-bytes)');
    const skipped = run(['score', modelDir, input, '--max-line-bytes', '300', '--skip-bad', '--device', 'cpu']);
    expect(skipped.status).toBe(0);
    const rows = jsonLines(skipped.stdout);
    expect(rows[1]).toEqual({ line: 2, error: 'longer than 300 bytes (--max-line-bytes)' });
    expect(Math.abs(rows[2].score - expected[1])).toBeLessThanOrEqual(1e-5);
    const huge = path.join(dir, 'huge.jsonl');
    fs.writeFileSync(huge, `${pairLines[0]}\n${JSON.stringify(['q', 'y'.repeat(8_000_000)])}\n${pairLines[1]}\n`);
    const big = run(['score', modelDir, huge, '--skip-bad', '--device', 'cpu']);
    expect(big.status).toBe(0);
    expect(jsonLines(big.stdout)[1]).toEqual({ line: 2, error: `longer than ${4 * 1024 * 1024} bytes (--max-line-bytes)` });
  });

  test('info: the threads a CPU model uses (the CPUs of its affinity mask here: no cgroup quota), one count with runtimeInfo()', () => {
    const json = run(['info', '--json']);
    expect(json.status).toBe(0);
    const info = JSON.parse(json.stdout);
    expect(info.modelThreads).toEqual({ cpuForward: os.availableParallelism(), tokenizer: os.availableParallelism() });
    expect(info.cpuThreads).toBe(os.availableParallelism());
    const text = run(['info']);
    expect(text.stdout).toMatch(new RegExp(`^threads +${os.availableParallelism()} per CPU model's forwards \\(--cpu-threads; ${os.availableParallelism()} CPUs? in its affinity mask, no cgroup CPU quota\\)`, 'm'));
    expect(text.stdout).toMatch(/^cpu +(bf16 matmuls on|no bf16 matmuls)/m);
  });
});
