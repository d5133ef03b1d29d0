// `torch-cross-encoder serve` as a user runs it (a child process): the API key from the
// environment, a JSON log line per request (--json-output), and SIGTERM with a silent client
// connected and one request being scored: the request is answered, the silent connection closed,
// and the process exits 0 by itself; SIGTERM while the model loads: exit 143 once it has loaded.
// A preload (node --require) holds the child's model calls at a gate that the signal opens, so
// that the order of events is certain without timing anything.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { tempDir } from './helpers/fake-libtorch';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { rawSocket, request } from './helpers/server-http';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const reason = modelTestsSkipReason();
if (reason) console.warn(`cli serve tests skipped: ${reason}`);

/**
 * A preload for the child that replaces CrossEncoder's `method` (a static one with `static`) by
 * one that waits for the process's first SIGTERM, then does the real work. It writes
 * "gate: <method>" on stderr when a call reaches the gate.
 */
function gatePreload(dir: string, method: 'rank' | 'load'): string {
  const file = path.join(dir, `gate-${method}.cjs`);
  const target = method === 'load' ? 'CrossEncoder' : 'CrossEncoder.prototype';
  fs.writeFileSync(file, [
    `const { CrossEncoder } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'cross-encoder.js'))});`,
    `const gate = new Promise((resolve) => process.once('SIGTERM', resolve));`,
    `const real = ${target}.${method};`,
    `${target}.${method} = async function (...args) {`,
    `  process.stderr.write('gate: ${method}\\n');`,
    // A signal listener does not keep the process alive, as a real load's work does.
    '  const alive = setInterval(() => undefined, 1 << 30);',
    '  await gate;',
    '  clearInterval(alive);',
    '  return real.apply(this, args);',
    '};',
  ].join('\n'));
  return file;
}

/** `serve` in a child process with a preload; its JSON log records as they come. */
function serveChild(args: string[], preload: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--require', preload, cli, 'serve', ...args, '--port', '0', '--json-output', '--device', 'cpu'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const waiters: Array<() => void> = [];
  const wakeAll = () => waiters.splice(0).forEach((wake) => wake());
  child.stderr.on('data', (c) => {
    stderr += c;
    wakeAll();
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    exitCode = code;
    wakeAll();
    resolve(code);
  }));
  const records: any[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    records.push(JSON.parse(line));
    wakeAll();
  });
  /** Resolves once `condition()` holds, re-checked on each thing the child does. */
  const when = async (condition: () => boolean) => {
    while (!condition()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  const record = async (match: (r: any) => boolean) => {
    await when(() => records.some(match) || exitCode !== undefined);
    const found = records.find(match);
    if (!found) throw new Error(`serve exited (${exitCode}) before the record expected; stderr: ${stderr}`);
    return found;
  };
  return { child, exited, records, record, when, stderr: () => stderr, exitCode: () => exitCode };
}

describe.skipIf(reason)('torch-cross-encoder serve', () => {
  const dir = tempDir('cli-serve');

  test('TCE_API_KEY, --json-output, and SIGTERM: in-flight answered, silent socket closed, exit 0', async () => {
    const modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const { child, exited, records, record, stderr } = serveChild([modelDir, '--batch-size', '1', '--shutdown-timeout', '600'], gatePreload(dir, 'rank'), { TCE_API_KEY: 'from-env' });
    const started = await record((r) => typeof r.port === 'number');
    const port = started.port as number;
    expect(started.message).toMatch(/^serving /);

    expect((await request(port, 'GET', '/info')).status).toBe(401);
    expect((await request(port, 'GET', '/info', undefined, { authorization: 'Bearer from-env' })).status).toBe(200);
    expect((await request(port, 'GET', '/health')).status).toBe(200);
    const logged = await record((r) => r.path === '/health');
    expect(logged).toEqual(expect.objectContaining({ method: 'GET', status: 200, level: 'INFO', duration_ms: expect.any(Number) }));
    expect(records.filter((r) => r.path === '/info').map((r) => r.status)).toEqual([401, 200]);

    // One request of 32 pairs, held at the gate (its rank() call waits for SIGTERM), and a client
    // that never speaks.
    const pairs = bioasqPairs(32);
    const silent = rawSocket(port);
    await silent.connected;
    const scoring = request(port, 'POST', '/rerank', { query: pairs[0][0], texts: pairs.map(([, d]) => d) }, { authorization: 'bearer from-env' });
    // The request is being scored once the server has read it: ask /metrics (open) until it says so.
    for (let polls = 0; ; polls++) {
      if (polls > 10_000) throw new Error('the rerank request never showed in /metrics');
      const metrics = (await request(port, 'GET', '/metrics')).body as string;
      if (/^tce_requests_in_flight 1$/m.test(metrics)) break;
    }
    expect(stderr()).toBe('gate: rank\n');
    expect(records.some((r) => r.path === '/rerank')).toBe(false);
    child.kill('SIGTERM');
    await silent.closed;
    const reply = await scoring;
    expect(reply.status).toBe(200);
    expect(reply.body).toHaveLength(32);
    expect(await exited).toBe(0);
    expect(stderr()).toBe('gate: rank\n');
    // In this order: the signal, the answer to the request that was in flight, the stop.
    const signalled = records.findIndex((r) => r.signal === 'SIGTERM');
    const answered = records.findIndex((r) => r.path === '/rerank');
    expect(signalled).toBeGreaterThan(0);
    expect(answered).toBeGreaterThan(signalled);
    expect(records.at(-1).message).toBe('stopped');
    expect(records.filter((r) => r.path === '/rerank')).toEqual([expect.objectContaining({ status: 200, pairs: 32 })]);
  });

  test('a second SIGTERM while a request is being scored ends the process at once, by the signal, without the graceful stop', async () => {
    const modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const { child, records, record, when, exitCode } = serveChild([modelDir, '--batch-size', '1', '--shutdown-timeout', '600'], gatePreload(dir, 'rank'));
    let exitSignal: NodeJS.Signals | null = null;
    child.on('exit', (_code, signal) => (exitSignal = signal));
    const port = (await record((r) => typeof r.port === 'number')).port as number;
    // A request of 32 pairs, one forward each, held at the gate until the first SIGTERM.
    const pairs = bioasqPairs(32);
    const scoring = request(port, 'POST', '/rerank', { query: pairs[0][0], texts: pairs.map(([, d]) => d) }).catch((error: Error) => error);
    for (let polls = 0; ; polls++) {
      if (polls > 10_000) throw new Error('the rerank request never showed in /metrics');
      if (/^tce_requests_in_flight 1$/m.test((await request(port, 'GET', '/metrics')).body as string)) break;
    }
    child.kill('SIGTERM');
    await record((r) => r.signal === 'SIGTERM');
    child.kill('SIGTERM');
    await when(() => exitCode() !== undefined);
    // Ended by the signal's default action (the shell's 143), not by an exit of its own.
    expect(exitCode()).toBe(null);
    expect(exitSignal).toBe('SIGTERM');
    expect(records.map((r) => r.message).filter(Boolean)).toEqual([expect.stringMatching(/^serving /), 'SIGTERM: shutting down after the requests in flight', 'SIGTERM again: exiting now']);
    expect(records.some((r) => r.path === '/rerank')).toBe(false);
    expect(await scoring).toBeInstanceOf(Error);
  });

  test('SIGTERM while the model loads (as PID 1 in a container, an unhandled one is ignored): exit 143 once loaded, never serving', async () => {
    const modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const { child, exited, records, when, stderr, exitCode } = serveChild([modelDir], gatePreload(dir, 'load'));
    await when(() => stderr().includes('gate: load') || exitCode() !== undefined);
    expect(stderr()).toBe('gate: load\n');
    child.kill('SIGTERM');
    // Without a handler of serve's own, the load would go on and serve: fail fast on that record.
    await when(() => exitCode() !== undefined || records.some((r) => typeof r.port === 'number'));
    if (exitCode() === undefined) child.kill('SIGKILL');
    expect(records.some((r) => typeof r.port === 'number')).toBe(false);
    expect(await exited).toBe(143);
    expect(records.map((r) => r.message)).toEqual(['SIGTERM while starting: exiting once the model has loaded', 'stopped']);
  });
});
