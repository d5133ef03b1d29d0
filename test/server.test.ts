// The rerank server over real HTTP on loopback: TEI's API and errors, scores equal to a direct
// predict, concurrent requests sharing forwards, back-pressure, the API key, metrics, and a
// graceful shutdown with a request in flight.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { RerankServer, type ServerOptions } from '../lib/server/server';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';

const reason = modelTestsSkipReason();
if (reason) console.warn(`server tests skipped: ${reason}`);

const TOLERANCE = 1e-5;

interface Reply {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

/** One HTTP request; `body` is sent as JSON unless it is a string. */
function request(port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = raw;
        try {
          parsed = JSON.parse(raw);
        } catch {
          // /metrics is text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** A request whose body is held back until `finish()`: it stays in flight on the server. */
function heldRequest(port: number, path: string, body: unknown) {
  const text = JSON.stringify(body);
  let resolveReply: (reply: Reply) => void;
  const reply = new Promise<Reply>((resolve) => (resolveReply = resolve));
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': Buffer.byteLength(text) } }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolveReply({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: res.headers }));
  });
  req.write(text.slice(0, 5));
  return { reply, finish: () => req.end(text.slice(5)) };
}

/** Resolves once `server` is serving `count` scoring requests (counts turns of the loop, no timer). */
async function inFlight(server: RerankServer, count: number): Promise<void> {
  for (let turn = 0; server.inFlightRequests < count; turn++) {
    if (turn > 100_000) throw new Error(`only ${server.inFlightRequests} requests reached the server`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.skipIf(reason)('rerank server (TEI API) over HTTP', () => {
  let model: CrossEncoder;
  const servers: RerankServer[] = [];
  const pairs = bioasqPairs(40);
  const query = pairs[0][0];
  const texts = pairs.slice(0, 12).map(([, d]) => d);

  async function start(options: ServerOptions = {}): Promise<{ server: RerankServer; port: number }> {
    const server = new RerankServer(model, options);
    servers.push(server);
    const { port } = await server.listen(0);
    return { server, port };
  }

  async function direct(q: string, docs: string[], activation?: 'identity'): Promise<Float32Array> {
    return (await model.predict(docs.map((d): Pair => [q, d]), activation ? { activation } : {})) as Float32Array;
  }

  beforeAll(async () => {
    model = await CrossEncoder.load(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), { device: 'cpu' });
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await model.dispose();
  });

  test('POST /rerank: every text once, best first, scores of a direct predict; raw_scores and return_text', async () => {
    const { port } = await start();
    const expected = await direct(query, texts);
    const reply = await request(port, 'POST', '/rerank', { query, texts });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    const results = reply.body as Array<{ index: number; score: number; text?: string }>;
    expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual(texts.map((_, i) => i));
    for (let i = 1; i < results.length; i++) expect(results[i - 1].score).toBeGreaterThanOrEqual(results[i].score);
    for (const r of results) {
      expect(Math.abs(r.score - expected[r.index])).toBeLessThanOrEqual(TOLERANCE);
      expect(r.text).toBeUndefined();
    }
    const logits = await direct(query, texts, 'identity');
    const raw = await request(port, 'POST', '/rerank', { query, texts, raw_scores: true, return_text: true, truncate: true, truncation_direction: 'Right' });
    expect(raw.status).toBe(200);
    for (const r of raw.body) {
      expect(Math.abs(r.score - logits[r.index])).toBeLessThanOrEqual(TOLERANCE);
      expect(r.text).toBe(texts[r.index]);
    }
  });

  test('POST /predict: one pair gives a number, a list one score per pair in order', async () => {
    const { port } = await start();
    const expected = await direct(query, texts.slice(0, 3));
    const list = await request(port, 'POST', '/predict', { inputs: texts.slice(0, 3).map((d) => [query, d]) });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(3);
    list.body.forEach((s: number, i: number) => expect(Math.abs(s - expected[i])).toBeLessThanOrEqual(TOLERANCE));
    const one = await request(port, 'POST', '/predict', { inputs: [query, texts[0]] });
    expect(typeof one.body).toBe('number');
    expect(Math.abs(one.body - expected[0])).toBeLessThanOrEqual(TOLERANCE);
  });

  test('bad requests are 4xx with TEI-style errors that say what is wrong', async () => {
    const { port } = await start({ maxClientBatchSize: 4, maxPayloadBytes: 4096 });
    const cases: Array<[unknown, number, RegExp]> = [
      ['{not json', 422, /not valid JSON/],
      [[1, 2], 422, /JSON object/],
      [{ query: 3, texts: ['a'] }, 422, /`query` must be a string/],
      [{ query: 'q', texts: 'a' }, 422, /`texts` must be an array of strings/],
      [{ query: 'q', texts: [] }, 422, /cannot be empty/],
      [{ query: 'q', texts: ['a', 'b', 'c', 'd', 'e'] }, 413, /batch size 5 > maximum allowed batch size 4/],
      [{ query: 'q', texts: ['a'], raw_scores: 'yes' }, 422, /`raw_scores` must be a boolean/],
      [{ query: 'q', texts: ['a'], truncation_direction: 'left' }, 422, /truncation_direction "left" is not supported/],
      [{ query: 'q', texts: ['x'.repeat(5000)] }, 413, /payload .*limit of 4096 bytes/],
      [{ query: 'q', texts: ['word '.repeat(600)], truncate: false }, 413, /must have less than 512 tokens\. Given: 60\d/],
    ];
    for (const [body, status, message] of cases) {
      const reply = await request(port, 'POST', '/rerank', body);
      expect({ body, status: reply.status }).toEqual({ body, status });
      expect(reply.body.error).toMatch(message);
      expect(reply.body.error_type).toBe('Validation');
    }
    // A chunked body (no Content-Length) over the limit is answered 413 too, not reset.
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/rerank' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')), headers: res.headers }));
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(1024));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(chunked.body.error).toMatch(/payload > limit of 4096 bytes/);
    // Truncated (the default) the same long text is scored.
    expect((await request(port, 'POST', '/rerank', { query: 'q', texts: ['word '.repeat(600)] }, {})).status).toBe(200);
    const unknown = await request(port, 'GET', '/wp-login.php');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/POST \/rerank/);
    const badPair = await request(port, 'POST', '/predict', { inputs: [['q', 7]] });
    expect(badPair.status).toBe(422);
  });

  test('64 concurrent requests of 1-8 texts: each gets its own scores, and forwards are shared', async () => {
    const { port } = await start();
    const before = model.stats().sharedForwards;
    const requests = Array.from({ length: 64 }, (_, i) => {
      const docs = pairs.slice(i % 30, (i % 30) + 1 + (i % 8)).map(([, d]) => d);
      return { query: pairs[i % 40][0], docs };
    });
    const replies = await Promise.all(requests.map((r) => request(port, 'POST', '/rerank', { query: r.query, texts: r.docs })));
    for (let i = 0; i < requests.length; i++) {
      expect(replies[i].status).toBe(200);
      const expected = await direct(requests[i].query, requests[i].docs);
      expect(replies[i].body).toHaveLength(requests[i].docs.length);
      for (const r of replies[i].body) expect(Math.abs(r.score - expected[r.index])).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(model.stats().sharedForwards).toBeGreaterThan(before);
  });

  test('beyond max concurrent requests: 429, and the requests in flight still succeed', async () => {
    const { server, port } = await start({ maxConcurrentRequests: 2 });
    const held = [heldRequest(port, '/rerank', { query, texts: texts.slice(0, 2) }), heldRequest(port, '/rerank', { query, texts: texts.slice(2, 4) })];
    await inFlight(server, 2);
    const third = await request(port, 'POST', '/rerank', { query, texts: [texts[5]] });
    expect(third.status).toBe(429);
    expect(third.body).toEqual({ error: expect.stringMatching(/Model is overloaded/), error_type: 'Overloaded' });
    held.forEach((h) => h.finish());
    const replies = await Promise.all(held.map((h) => h.reply));
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    expect((await request(port, 'POST', '/rerank', { query, texts: [texts[5]] })).status).toBe(200);
  });

  test('--api-key: 401 without the key or with another, 200 with it', async () => {
    const { port } = await start({ apiKey: 'sekrit' });
    const none = await request(port, 'GET', '/health');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect((await request(port, 'POST', '/rerank', { query, texts }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await request(port, 'POST', '/rerank', { query, texts }, { authorization: 'Bearer sekrit' })).status).toBe(200);
  });

  test('GET /health, /info and /metrics', async () => {
    const { port } = await start({ modelId: 'tiny' });
    expect((await request(port, 'GET', '/health')).body).toEqual({ status: 'ok' });
    const info = (await request(port, 'GET', '/info')).body;
    expect(info).toMatchObject({ model_id: 'tiny', max_input_length: 512, device: 'cpu', model_type: { reranker: { num_labels: 1 } } });
    await request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 3) });
    await request(port, 'POST', '/rerank', { query, texts: [] });
    const metrics = await request(port, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/^te_request_count\{method="rerank",status="200"\} 1$/m);
    expect(metrics.body).toMatch(/^te_request_count\{method="rerank",status="422"\} 1$/m);
    expect(metrics.body).toMatch(/^te_request_pairs_sum\{method="rerank"\} 3$/m);
    expect(metrics.body).toMatch(/^te_queue_duration_count\{method="rerank"\} 1$/m);
    expect(metrics.body).toMatch(/^tce_pairs_total \d+$/m);
    expect(metrics.body).toMatch(/^te_batch_next_size_count [1-9]/m);
    // Routes are labelled from a fixed set: an unknown path does not add series.
    await request(port, 'GET', '/wp-login.php');
    const after = (await request(port, 'GET', '/metrics')).body as string;
    expect(after).toMatch(/^te_request_count\{method="other",status="404"\} 1$/m);
    expect(after).not.toContain('wp-login');
  });

  test('graceful shutdown: no new connections, the request in flight is answered, then close() resolves', async () => {
    const { server, port } = await start();
    const held = heldRequest(port, '/rerank', { query, texts: texts.slice(0, 3) });
    await inFlight(server, 1);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await expect(request(port, 'GET', '/health')).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toBe(false);
    held.finish();
    const reply = await held.reply;
    expect(reply.status).toBe(200);
    expect(reply.body).toHaveLength(3);
    await closing;
    expect(closed).toBe(true);
  });
});
