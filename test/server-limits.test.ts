// Every request's work bounded by the server's limits (docs/SERVER.md, *Limits*), over real
// loopback sockets: long documents take a permit per window (413 over --max-windows-per-request,
// 429 over --max-concurrent-requests, before any forward), a client that leaves stops its windows
// at the next batch, the request timeout covers queueing, /tokenize is counted and written as the
// client reads it, connections beyond --max-connections get a clean 503, and logs and metrics
// say the status the client was sent. Every check counts events (forwards, pairs, bytes,
// records); none depends on how long anything takes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder } from '../lib/cross-encoder';
import type { RequestLogRecord } from '../lib/server/options';
import { RerankServer, type ServerOptions } from '../lib/server/server';
import { repoRoot } from './helpers/child';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { gatedModel, metric, rawPost, rawSocket, request, until } from './helpers/server-http';

const reason = modelTestsSkipReason();
if (reason) console.warn(`server limit tests skipped: ${reason}`);

describe.skipIf(reason)('rerank server: every request bounded by the limits', () => {
  /** One pair a forward and a 64-token window: a PubMed abstract is several windows, each a forward. */
  let model: CrossEncoder;
  const servers: RerankServer[] = [];
  const short = bioasqPairs(40);
  const query = short[0]![0];
  const abstracts = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
    .split('\n').filter(Boolean).slice(0, 40).map((line) => (JSON.parse(line) as { text: string }).text);
  /** One long document: 8 abstracts, one after another (tens of windows). */
  const longText = abstracts.slice(0, 8).join('\n');
  /** A longer text for /tokenize: every abstract, twice. */
  const longerText = [...abstracts, ...abstracts].join('\n');

  async function start(served: CrossEncoder, options: ServerOptions = {}) {
    const records: RequestLogRecord[] = [];
    const server = new RerankServer(served, { ...options, log: (r) => records.push(r) });
    servers.push(server);
    const { port } = await server.listen(0);
    return { server, port, records };
  }

  beforeAll(async () => {
    model = await CrossEncoder.load(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), { device: 'cpu', batchSize: 1, cpuThreads: 1, maxLength: 64 });
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await model?.dispose();
  });

  test('a long document takes one permit per window: the pairs logged are the pairs the engine scored', async () => {
    const { port, records } = await start(model);
    const before = model.stats();
    const reply = await request(port, 'POST', '/rerank', { query, texts: [abstracts[0], longText], long_documents: 'max' });
    expect(reply.status).toBe(200);
    const scored = model.stats().pairs - before.pairs;
    // Many windows for two documents; the log counts each.
    expect(scored).toBeGreaterThan(20);
    expect(records.find((r) => r.path === '/rerank')).toEqual(expect.objectContaining({ status: 200, pairs: scored }));
  });

  test('windows over --max-windows-per-request: 413; over --max-concurrent-requests: 429; no forward runs for either', async () => {
    const before = model.stats();
    const limited = await start(model, { maxWindowsPerRequest: 8 });
    const tooMany = await request(limited.port, 'POST', '/v1/rerank', { query, documents: [longText], long_documents: 'mean' });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error).toMatch(/max_windows_per_request \(8\)/);
    // The same document, truncated, is one pair.
    expect((await request(limited.port, 'POST', '/v1/rerank', { query, documents: [longText] })).status).toBe(200);
    expect(model.stats().pairs - before.pairs).toBe(1);

    const permits = await start(model, { maxConcurrentRequests: 8 });
    const overloaded = await request(permits.port, 'POST', '/predict', { inputs: [[query, longText]], long_documents: 'first', stride: 0 });
    // 'first' scores one window: it fits.
    expect(overloaded.status).toBe(200);
    const mean = await request(permits.port, 'POST', '/predict', { inputs: [[query, longText]], long_documents: 'mean' });
    expect(mean.status).toBe(429);
    expect(model.stats().pairs - before.pairs).toBe(2);
    const metrics = (await request(permits.port, 'GET', '/metrics')).body as string;
    expect(metric(metrics, /te_request_failure\{err="overloaded"\}/)).toBe(1);
  });

  test('a client that leaves while its long document is scored: at most the forward in progress runs on', async () => {
    // The pairs scored when the server aborted the request's call: read one turn after its signal
    // fires, once the engine has been told. Counting from there, not from the client's close (which
    // the server sees a little later, while forwards go on), makes this independent of timing.
    let atAbort: number | undefined;
    const watched = Object.create(model) as CrossEncoder;
    for (const name of ['predict', 'rank'] as const) {
      const original = (model[name] as (...args: unknown[]) => Promise<unknown>).bind(model);
      Object.defineProperty(watched, name, {
        value: (...args: unknown[]) => {
          const options = args[args.length - 1] as { signal?: AbortSignal } | undefined;
          options?.signal?.addEventListener('abort', () => setImmediate(() => (atAbort ??= model.stats().pairs)));
          return original(...args);
        },
      });
    }
    const { server, port, records } = await start(watched, { maxWindowsPerRequest: 10_000, maxConcurrentRequests: 10_000 });
    const before = model.stats();
    const client = rawSocket(port);
    await client.connected;
    client.socket.write(rawPost('/rerank', { query, texts: [longText, longText], long_documents: 'max' }));
    await until(() => model.stats().forwards > before.forwards + 2, 'the windows to be scored');
    client.socket.destroy();
    await until(() => server.inFlightRequests === 0 && atAbort !== undefined, 'the dropped request to end');
    const record = records.find((r) => r.path === '/rerank')!;
    expect(record).toEqual(expect.objectContaining({ status: 499, client_gone: true }));
    // Every window counted when it was planned; one pair a forward, so at most the forward in
    // progress (and the one launched beside it) after the abort.
    expect(record.pairs).toBeGreaterThan(40);
    expect(atAbort! - before.pairs).toBeLessThan(record.pairs!);
    expect(model.stats().pairs - atAbort!).toBeLessThanOrEqual(2);
  });

  test('the request timeout covers queueing: a request held past it is answered 503, logged and counted as such, and never scored', async () => {
    const gated = gatedModel(model);
    const { server, port, records } = await start(gated.model, { headersTimeoutMs: 100, requestTimeoutMs: 300 });
    // A forward of its own: the engine runs one at a time, so any forward still running for an
    // earlier test's aborted request is done once this one is.
    await model.predict([query, 'a short document']);
    const before = model.stats();
    const reply = request(port, 'POST', '/rerank', { query, texts: [longText], long_documents: 'max' });
    await until(() => gated.state.waiting === 1, 'the request at the gate');
    const answered = await reply;
    expect(answered.status).toBe(503);
    expect(answered.body.error).toMatch(/request timeout of 300 ms/);
    gated.open();
    await until(() => server.inFlightRequests === 0, 'the request to end');
    expect(model.stats().forwards).toBe(before.forwards);
    expect(records.filter((r) => r.path === '/rerank').map((r) => r.status)).toEqual([503]);
    const metrics = (await request(port, 'GET', '/metrics')).body as string;
    expect(metric(metrics, /te_request_failure\{err="timeout"\}/)).toBe(1);
    expect(metric(metrics, /tce_http_requests\{route="rerank",status="503"\}/)).toBe(1);
  });

  test('a body not received in time: the client gets 408, and the log and metrics say 408 (never 500)', async () => {
    const { port, records } = await start(model, { headersTimeoutMs: 100, requestTimeoutMs: 200 });
    const halfBodies = Array.from({ length: 3 }, () => rawSocket(port));
    for (const c of halfBodies) c.socket.write(rawPost('/rerank', { query, texts: [query] }).slice(0, -5));
    await Promise.all(halfBodies.map((c) => c.closed));
    for (const c of halfBodies) expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    await until(() => records.length === 3, 'the three log records');
    expect(records.map((r) => r.status)).toEqual([408, 408, 408]);
    const metrics = (await request(port, 'GET', '/metrics')).body as string;
    expect(metric(metrics, /tce_http_requests\{route="rerank",status="408"\}/)).toBe(3);
    expect(metrics).not.toMatch(/status="500"/);
  });

  test('/tokenize: over --max-client-batch-size 422, over the free permits 429', async () => {
    const gated = gatedModel(model);
    const { port } = await start(gated.model, { maxConcurrentRequests: 4, maxClientBatchSize: 4 });
    expect((await request(port, 'POST', '/tokenize', { inputs: ['a', 'b', 'c', 'd', 'e'] })).status).toBe(422);
    // A rerank of four texts held at the gate takes every permit.
    const held = request(port, 'POST', '/rerank', { query, texts: short.slice(0, 4).map(([, d]) => d) });
    await until(() => gated.state.waiting === 1, 'the rerank at the gate');
    const refused = await request(port, 'POST', '/tokenize', { inputs: 'one text' });
    expect(refused.status).toBe(429);
    gated.open();
    expect((await held).status).toBe(200);
    const tokenized = await request(port, 'POST', '/tokenize', { inputs: 'one text' });
    expect(tokenized.status).toBe(200);
    expect(tokenized.body[0].map((t: { id: number }) => t.id)).toEqual(Array.from(model.tokenizer.encode('one text').ids));
  });

  test('/tokenize to a client that does not read: the server holds a bounded buffer, not the answer', async () => {
    const inputs = Array.from({ length: 32 }, () => longerText);
    const { server, port, records } = await start(model, { maxPayloadBytes: JSON.stringify(inputs).length + 100 });
    const tokens = model.tokenizer.encode(longerText).ids.length * inputs.length;
    // Each token is at least `{"id":0,"text":"","special":false,"start":null,"stop":null}` (58 bytes).
    const answerBytes = tokens * 58;
    expect(answerBytes).toBeGreaterThan(30_000_000);
    let response: import('node:http').ServerResponse | undefined;
    server.server.once('request', (_req, res) => (response = res));
    const client = rawSocket(port);
    await client.connected;
    client.socket.pause();
    client.socket.write(rawPost('/tokenize', { inputs }));
    await until(() => response !== undefined && response.headersSent && response.writableNeedDrain, 'the server to wait for the client');
    const res = response!;
    // Many turns of the event loop while the client reads nothing: the server writes no more.
    let largest = 0;
    for (let turn = 0; turn < 2000; turn++) {
      largest = Math.max(largest, res.writableLength, res.socket?.writableLength ?? 0);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const written = res.socket!.bytesWritten;
    // Buffered: one piece of 512 tokens (about 40 KB) and the socket's high-water mark at most.
    expect(largest).toBeLessThan(128 * 1024);
    // Sent so far: what the kernel's socket buffers took, a small part of the answer.
    expect(written).toBeLessThan(answerBytes / 4);
    client.socket.destroy();
    await until(() => server.inFlightRequests === 0, 'the request to end');
    expect(records.find((r) => r.path === '/tokenize')).toEqual(expect.objectContaining({ status: 200, error: expect.stringMatching(/cut off/) }));
    console.log(`tokenize: answer >= ${answerBytes} bytes; ${written} written to a client that did not read, at most ${largest} buffered`);
  });

  test('/tokenize to a client that reads: the whole answer, the tokenizer\'s tokens', async () => {
    const { port } = await start(model);
    const reply = await request(port, 'POST', '/tokenize', { inputs: [longText, [query, 'a document']], add_special_tokens: true });
    expect(reply.status).toBe(200);
    expect(reply.body.map((tokens: Array<{ id: number }>) => tokens.map((t) => t.id))).toEqual([
      Array.from(model.tokenizer.encode(longText).ids),
      Array.from(model.tokenizer.encode(query, 'a document').ids),
    ]);
    expect(reply.body[0][0]).toEqual({ id: model.tokenizer.encode(longText).ids[0], text: '[CLS]', special: true, start: null, stop: null });
  });

  test('--max-connections: a connection beyond it gets 503 for its request and is closed; the others are served', async () => {
    const { server, port, records } = await start(model, { maxConnections: 2 });
    const kept = [rawSocket(port), rawSocket(port)];
    await Promise.all(kept.map((c) => c.connected));
    await until(() => server.openConnections === 2, 'two connections');
    const extra = Array.from({ length: 3 }, () => rawSocket(port));
    for (const c of extra) c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await Promise.all(extra.map((c) => c.closed));
    for (const c of extra) {
      expect(c.received()).toMatch(/^HTTP\/1\.1 503 /);
      expect(c.received()).toMatch(/too many connections/);
    }
    // The two connections open before are untouched and served.
    for (const c of kept) c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => kept.every((c) => /^HTTP\/1\.1 200 /.test(c.received())), 'the kept connections answered');
    expect(server.openConnections).toBe(2);
    for (const c of kept) c.socket.destroy();
    await until(() => server.openConnections === 0, 'the kept connections to close');
    const metrics = (await request(port, 'GET', '/metrics')).body as string;
    expect(metric(metrics, /tce_connections_refused/)).toBe(3);
    expect(records.filter((r) => r.status === 503)).toHaveLength(3);
  });
});
