// `torch-cross-encoder serve` as a user runs it (a child process): the API key from the
// environment, a JSON log line per request (--json-output), and SIGTERM with a silent client
// connected and one request being scored: the request is answered, the silent connection closed,
// and the process exits 0 by itself.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, test } from 'vitest';
import { repoRoot } from './helpers/child';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { rawSocket, request } from './helpers/server-http';

const cli = path.join(repoRoot, 'dist', 'cli.js');
const reason = modelTestsSkipReason();
if (reason) console.warn(`cli serve tests skipped: ${reason}`);

describe.skipIf(reason)('torch-cross-encoder serve', () => {
  test('TCE_API_KEY, --json-output, and SIGTERM: in-flight answered, silent socket closed, exit 0', async () => {
    const modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const child = spawn(process.execPath, [cli, 'serve', modelDir, '--port', '0', '--json-output', '--device', 'cpu', '--batch-size', '1', '--shutdown-timeout', '600'], {
      env: { ...process.env, TCE_API_KEY: 'from-env' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const records: any[] = [];
    const waiters: Array<() => void> = [];
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      records.push(JSON.parse(line));
      waiters.splice(0).forEach((wake) => wake());
    });
    const record = async (match: (r: any) => boolean) => {
      while (!records.some(match)) await new Promise<void>((resolve) => waiters.push(resolve));
      return records.find(match);
    };
    const started = await record((r) => typeof r.port === 'number');
    const port = started.port as number;
    expect(started.message).toMatch(/^serving /);

    expect((await request(port, 'GET', '/info')).status).toBe(401);
    expect((await request(port, 'GET', '/info', undefined, { authorization: 'Bearer from-env' })).status).toBe(200);
    expect((await request(port, 'GET', '/health')).status).toBe(200);
    const logged = await record((r) => r.path === '/health');
    expect(logged).toEqual(expect.objectContaining({ method: 'GET', status: 200, level: 'INFO', duration_ms: expect.any(Number) }));
    expect(records.filter((r) => r.path === '/info').map((r) => r.status)).toEqual([401, 200]);

    // One request scoring 32 pairs one forward at a time, and a client that never speaks.
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
    child.kill('SIGTERM');
    await silent.closed;
    const reply = await scoring;
    expect(reply.status).toBe(200);
    expect(reply.body).toHaveLength(32);
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    expect(records.some((r) => r.signal === 'SIGTERM')).toBe(true);
    expect(records.at(-1).message).toBe('stopped');
    expect(records.filter((r) => r.path === '/rerank')).toEqual([expect.objectContaining({ status: 200, pairs: 32 })]);
  });
});
