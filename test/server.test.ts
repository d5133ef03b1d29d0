// The rerank server over real HTTP on loopback: TEI's API and errors, scores equal to a direct
// predict, concurrent requests sharing forwards, back-pressure, the API key, metrics, and a
// graceful shutdown with a request in flight.
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { runtimeInfo } from '../lib/runtime-info';
import { MAX_TIMER_MS, resolveServerOptions } from '../lib/server/options';
import { RerankServer, type ServerOptions } from '../lib/server/server';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { bertTokenizerJson, hfFromJson, readVocab } from './helpers/hf-reference';
import { codePointsToUtf8 } from './helpers/offsets-reference';
import { gatedModel, type Reply, request, until } from './helpers/server-http';

const reason = modelTestsSkipReason();
if (reason) console.warn(`server tests skipped: ${reason}`);

const TOLERANCE = 1e-5;

describe('server options', () => {
  test('timeouts longer than Node\'s timers keep (2^31 - 1 ms, which would fire after 1 ms) are refused', () => {
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
    for (const name of ['headersTimeoutMs', 'requestTimeoutMs', 'shutdownTimeoutMs'] as const) {
      const options = { headersTimeoutMs: 1, requestTimeoutMs: 1, shutdownTimeoutMs: 1, [name]: 2 ** 31 };
      expect(() => resolveServerOptions(options)).toThrow(expect.objectContaining({ code: 'TCE_INVALID_OPTION', message: expect.stringContaining(`${name} must be an integer from`) }));
    }
    expect(resolveServerOptions({ headersTimeoutMs: 2 ** 31 - 1, requestTimeoutMs: 2 ** 31 - 1, shutdownTimeoutMs: 2 ** 31 - 1 }).shutdownTimeoutMs).toBe(2 ** 31 - 1);
    expect(() => resolveServerOptions({ headersTimeoutMs: 20, requestTimeoutMs: 10 })).toThrow(/headersTimeoutMs must not be longer than requestTimeoutMs/);
  });
});

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

  test('POST /predict: as TEI, each input gives its labels with scores ({score, label}); raw_scores gives logits', async () => {
    const { port } = await start();
    const expected = await direct(query, texts.slice(0, 3));
    const list = await request(port, 'POST', '/predict', { inputs: texts.slice(0, 3).map((d) => [query, d]) });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(3);
    list.body.forEach((row: Array<{ score: number; label: string }>, i: number) => {
      expect(row).toHaveLength(1);
      expect(row[0].label).toBe('LABEL_0');
      expect(Math.abs(row[0].score - expected[i])).toBeLessThanOrEqual(TOLERANCE);
    });
    const one = await request(port, 'POST', '/predict', { inputs: [query, texts[0]] });
    expect(one.body).toEqual([{ score: expect.any(Number), label: 'LABEL_0' }]);
    expect(Math.abs(one.body[0].score - expected[0])).toBeLessThanOrEqual(TOLERANCE);
    const logits = await direct(query, texts.slice(0, 1), 'identity');
    const raw = await request(port, 'POST', '/predict', { inputs: [query, texts[0]], raw_scores: true });
    expect(Math.abs(raw.body[0].score - logits[0])).toBeLessThanOrEqual(TOLERANCE);
    const single = await request(port, 'POST', '/predict', { inputs: 'just one text' });
    expect(single.status).toBe(422);
    expect(single.body.error).toMatch(/single text: this model is a cross-encoder/);
  });

  test('POST /v1/rerank (Cohere / Jina): strings or {text}, top_n, return_documents, usage; its errors', async () => {
    const { port } = await start({ modelId: 'tiny' });
    const docs = texts.slice(0, 6);
    const expected = await direct(query, docs);
    const best = Array.from(expected, (s, i) => [s, i]).sort((a, b) => b[0] - a[0]).map(([, i]) => i);
    const reply = await request(port, 'POST', '/v1/rerank', {
      model: 'whatever-the-client-says', query, top_n: 4, return_documents: true,
      documents: docs.map((d, i) => (i % 2 ? { text: d } : d)), rank_fields: null, max_chunks_per_doc: 10,
    });
    expect(reply.status).toBe(200);
    expect(reply.body.model).toBe('whatever-the-client-says');
    expect(reply.body.results.map((r: { index: number }) => r.index)).toEqual(best.slice(0, 4));
    for (const r of reply.body.results) {
      expect(Math.abs(r.relevance_score - expected[r.index])).toBeLessThanOrEqual(TOLERANCE);
      expect(r.document).toEqual({ text: docs[r.index] });
    }
    const tokens = (await model.tokenizer.encodeBatch(docs.map((d): Pair => [query, d]), { maxLength: model.maxLength })).reduce((n, e) => n + e.ids.length, 0);
    expect(reply.body.usage).toEqual({ total_tokens: tokens });
    const bare = await request(port, 'POST', '/v1/rerank', { query, documents: docs });
    expect(bare.body.model).toBe('tiny');
    expect(bare.body.results).toHaveLength(6);
    expect(bare.body.results[0].document).toBeUndefined();
    const cases: Array<[unknown, number, RegExp]> = [
      [{ query, documents: [] }, 400, /`documents` cannot be empty/],
      [{ query, documents: [3] }, 422, /`documents\[0\]` must be a string or \{"text": string\}/],
      [{ query, documents: docs, top_n: 0 }, 422, /`top_n` must be an integer >= 1/],
      [{ documents: docs }, 422, /`query` must be a string/],
    ];
    for (const [body, status, message] of cases) {
      const r = await request(port, 'POST', '/v1/rerank', body);
      expect({ body, status: r.status }).toEqual({ body, status });
      expect(r.body.error).toMatch(message);
    }
  });

  test('bad requests are 4xx with TEI-style errors that say what is wrong', async () => {
    const { port } = await start({ maxClientBatchSize: 4, maxPayloadBytes: 4096 });
    const cases: Array<[unknown, number, RegExp]> = [
      ['{not json', 422, /not valid JSON/],
      [[1, 2], 422, /JSON object/],
      [{ query: 3, texts: ['a'] }, 422, /`query` must be a string/],
      [{ query: 'q', texts: 'a' }, 422, /`texts` must be an array of strings/],
      [{ query: 'q', texts: [] }, 400, /cannot be empty/],
      [{ query: 'q', texts: ['a', 'b', 'c', 'd', 'e'] }, 422, /batch size 5 > maximum allowed batch size 4/],
      [{ query: 'q', texts: ['a'], raw_scores: 'yes' }, 422, /`raw_scores` must be a boolean/],
      [{ query: 'q', texts: ['a'], truncation_direction: 'left' }, 422, /truncation_direction "left" is not supported/],
      [{ query: 'q', texts: ['x'.repeat(5000)] }, 413, /payload .*limit of 4096 bytes/],
      [{ query: 'q', texts: ['word '.repeat(600)], truncate: false }, 422, /must have less than 512 tokens\. Given: 60\d/],
    ];
    for (const [body, status, message] of cases) {
      const reply = await request(port, 'POST', '/rerank', body);
      expect({ body, status: reply.status }).toEqual({ body, status });
      expect(reply.body.error).toMatch(message);
      expect(reply.body.error_type).toBe(({ 400: 'Empty', 413: 'PayloadTooLarge', 422: 'Validation' } as Record<number, string>)[status]);
    }
    // A chunked body (no Content-Length) over the limit is answered 413 too, not reset.
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/rerank', agent: false }, (res) => {
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
    expect(unknown.body.error).toMatch(/no route GET \/wp-login\.php/);
    const badPair = await request(port, 'POST', '/predict', { inputs: [['q', 7]] });
    expect(badPair.status).toBe(422);
    const metrics = (await request(port, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^te_request_failure\{err="batch_size"\} 1$/m);
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

  test('max concurrent requests counts pairs, as TEI counts inputs: beyond it 429 (TEI\'s body), and the pairs in flight still succeed', async () => {
    const gated = gatedModel(model);
    const server = new RerankServer(gated.model, { maxConcurrentRequests: 3 });
    servers.push(server);
    const { port } = await server.listen(0);
    // Two requests, three pairs: the limit is taken though only two requests are in flight.
    const held = [request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 2) }), request(port, 'POST', '/predict', { inputs: [query, texts[2]] })];
    await until(() => gated.state.waiting === 2, 'two requests at the gate');
    expect(server.inFlightRequests).toBe(2);
    expect(server.inFlightPairs).toBe(3);
    const third = await request(port, 'POST', '/rerank', { query, texts: [texts[5]] });
    expect(third.status).toBe(429);
    expect(third.body).toEqual({ error: 'Model is overloaded', error_type: 'Overloaded' });
    gated.open();
    const replies = await Promise.all(held);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    expect(server.inFlightPairs).toBe(0);
    expect((await request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 3) })).status).toBe(200);
    // A request of more pairs than the limit could never fit: 429 too, as TEI, saying why.
    const tooMany = await request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 4) });
    expect(tooMany.status).toBe(429);
    expect(tooMany.body).toEqual({ error: expect.stringMatching(/^Model is overloaded: 4 pairs in one request are more than max_concurrent_requests \(3\)/), error_type: 'Overloaded' });
    const metrics = (await request(port, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^te_request_failure\{err="overloaded"\} 2$/m);
    expect(metrics).toMatch(/^te_queue_size 0$/m);
  });

  test('--api-key: 401 without the key or with another, 200 with it (scheme in any case); probes and /metrics stay open', async () => {
    const { port } = await start({ apiKey: 'sekrit' });
    const none = await request(port, 'GET', '/info');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect((await request(port, 'POST', '/rerank', { query, texts }, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await request(port, 'POST', '/rerank', { query, texts }, { authorization: 'sekrit' })).status).toBe(401);
    expect((await request(port, 'POST', '/rerank', { query, texts }, { authorization: 'Bearer sekrit' })).status).toBe(200);
    expect((await request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 1) }, { authorization: 'bearer sekrit' })).status).toBe(200);
    expect((await request(port, 'GET', '/info', undefined, { authorization: 'BEARER  sekrit' })).status).toBe(200);
    // POST / reranks and needs the key; GET / is a probe.
    expect((await request(port, 'POST', '/', { query, texts: texts.slice(0, 1) })).status).toBe(401);
    for (const [method, path] of [['GET', '/health'], ['GET', '/ping'], ['GET', '/'], ['GET', '/metrics'], ['HEAD', '/health'], ['HEAD', '/metrics']]) {
      expect({ method, path, status: (await request(port, method, path)).status }).toEqual({ method, path, status: 200 });
    }
  });

  test('routes: HEAD where GET, 405 with Allow for another method on a known route, POST / and /invocations rerank, /tokenize', async () => {
    const { port } = await start();
    const head = await request(port, 'HEAD', '/info');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    for (const [method, path, allow] of [['GET', '/rerank', 'POST'], ['DELETE', '/health', 'GET, HEAD'], ['POST', '/metrics', 'GET, HEAD'], ['PUT', '/', 'GET, HEAD, POST'], ['GET', '/v1/rerank', 'POST']]) {
      const reply = await request(port, method, path, method === 'GET' ? undefined : {});
      expect({ method, path, status: reply.status, allow: reply.headers.allow }).toEqual({ method, path, status: 405, allow });
      expect(reply.body.error_type).toBe('MethodNotAllowed');
    }
    const expected = await direct(query, texts.slice(0, 4));
    for (const path of ['/', '/invocations']) {
      const reply = await request(port, 'POST', path, { query, texts: texts.slice(0, 4) });
      expect(reply.status).toBe(200);
      for (const r of reply.body) expect(Math.abs(r.score - expected[r.index])).toBeLessThanOrEqual(TOLERANCE);
    }
    const tokens = await request(port, 'POST', '/tokenize', { inputs: ['caffeine metabolism', ['what is cyp1a2', 'an enzyme']] });
    expect(tokens.status).toBe(200);
    const reference = await model.tokenizer.encodeBatch(['caffeine metabolism', ['what is cyp1a2', 'an enzyme']]);
    tokens.body.forEach((row: Array<{ id: number; text: string; special: boolean; start: null; stop: null }>, i: number) => {
      expect(row.map((t) => t.id)).toEqual(Array.from(reference[i].ids));
      // Not special: the input's own text, split (the spans are checked in the next test).
      expect(row.filter((t) => !t.special).map((t) => t.text).join('')).toBe(i === 0 ? 'caffeinemetabolism' : 'whatiscyp1a2anenzyme');
      expect(row.filter((t) => t.special).map((t) => t.text)).toEqual(i === 0 ? ['[CLS]', '[SEP]'] : ['[CLS]', '[SEP]', '[SEP]']);
    });
    const plain = await request(port, 'POST', '/tokenize', { inputs: 'caffeine', add_special_tokens: false });
    expect(plain.body[0].every((t: { special: boolean }) => !t.special)).toBe(true);
  });

  test('/tokenize spans as TEI: UTF-8 byte start/stop into the input and its text between them; specials null, with their token', async () => {
    const { port } = await start();
    // The reference: npm tokenizers on the same vocabulary (code point offsets), converted to
    // bytes and sliced from the input's UTF-8 bytes as TEI's into_tokens does.
    const hfTokenizer = hfFromJson(bertTokenizerJson(readVocab(path.join(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), 'vocab.txt'))));
    const text = 'Café naïve — β-catenin 😀 in 東京, ﬁne Ünïcode';
    const pair: [string, string] = ['Über CYP1A2 😀?', 'x\u00a0é 😀 ǅ'];
    async function expected(input: string | [string, string], addSpecialTokens: boolean) {
      const strings = typeof input === 'string' ? [input] : input;
      const e = await hfTokenizer.encode(strings[0]!, strings[1] ?? null, { addSpecialTokens });
      const sequence = e.getSequenceIds();
      const mask = e.getSpecialTokensMask();
      return e.getIds().map((id, k) => {
        if (mask[k] === 1) return { id, text: e.getTokens()[k], special: true, start: null, stop: null };
        const own = strings[sequence[k] ?? 0]!;
        const bytes = codePointsToUtf8(own);
        const [start, stop] = e.getOffsets()[k]!.map((cp) => bytes[cp]!);
        return { id, text: Buffer.from(own, 'utf8').subarray(start, stop).toString('utf8'), special: false, start, stop };
      });
    }
    const reply = await request(port, 'POST', '/tokenize', { inputs: [text, pair] });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual([await expected(text, true), await expected(pair, true)]);
    // Byte offsets, not UTF-16 ones: the text's last token ends at its UTF-8 length.
    const spans = reply.body[0].filter((t: { special: boolean }) => !t.special);
    expect(spans.at(-1).stop).toBe(Buffer.byteLength(text));
    expect(Buffer.byteLength(text)).toBeGreaterThan(text.length);
    expect(spans.find((t: { text: string }) => t.text === '😀')).toEqual(expect.objectContaining({ start: Buffer.byteLength('Café naïve — β-catenin '), stop: Buffer.byteLength('Café naïve — β-catenin 😀') }));
    const single = await request(port, 'POST', '/tokenize', { inputs: text, add_special_tokens: false });
    expect(single.body).toEqual([await expected(text, false)]);
  });

  test('CORS as TEI: any origin by default, a preflight answered 200; a list of origins allows only those', async () => {
    const { port } = await start();
    const preflight = await request(port, 'OPTIONS', '/rerank', undefined, { origin: 'https://app.example', 'access-control-request-method': 'POST' });
    expect(preflight.status).toBe(200);
    expect(preflight.headers).toMatchObject({ 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET,POST' });
    expect(preflight.headers['access-control-allow-headers']).toContain('content-type');
    const simple = await request(port, 'GET', '/info', undefined, { origin: 'https://app.example' });
    expect(simple.headers['access-control-allow-origin']).toBe('*');
    expect((await request(port, 'GET', '/info')).headers['access-control-allow-origin']).toBeUndefined();
    expect((await request(port, 'OPTIONS', '/rerank')).status).toBe(405); // not a preflight
    const listed = await start({ corsAllowOrigin: ['https://app.example'] });
    const allowed = await request(listed.port, 'GET', '/health', undefined, { origin: 'https://app.example' });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await request(listed.port, 'GET', '/health', undefined, { origin: 'https://evil.example' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(other.headers.vary).toBe('origin');
  });

  test('GET /health, /info (TEI schema) and /metrics (TEI names)', async () => {
    const { port } = await start({ modelId: 'tiny', maxConcurrentRequests: 7 });
    const health = await request(port, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toBe('');
    const info = (await request(port, 'GET', '/info')).body;
    expect(info).toEqual(expect.objectContaining({
      model_id: 'tiny', model_sha: null, model_dtype: 'float32', served_model_name: 'tiny',
      model_type: { reranker: { id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } } },
      max_concurrent_requests: 7, max_input_length: 512, max_batch_tokens: 1024, max_batch_requests: 32,
      max_client_batch_size: 32, auto_truncate: true, tokenization_workers: expect.any(Number),
      version: expect.any(String), sha: null, docker_label: null, device: 'cpu', precision: 'fp32',
      // One thread count in /info, runtimeInfo() and `info`.
      cpu_threads: runtimeInfo().cpuThreads, cpu_bf16: runtimeInfo().cpu.bf16,
    }));
    await request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 3) });
    // As TEI: an empty list is a failure (validation) but not counted in te_request_count; a
    // request TEI's JSON parser refuses (a field of the wrong type) is counted nowhere.
    expect((await request(port, 'POST', '/rerank', { query, texts: [] })).status).toBe(400);
    expect((await request(port, 'POST', '/rerank', { query: 3, texts })).status).toBe(422);
    expect((await request(port, 'POST', '/predict', { inputs: [] })).status).toBe(422);
    await request(port, 'POST', '/predict', { inputs: [query, texts[0]] });
    await request(port, 'POST', '/tokenize', { inputs: query }); // not a scoring request for TEI's counters
    const metrics = await request(port, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/^te_request_count\{method="batch"\} 1$/m);
    expect(metrics.body).toMatch(/^te_request_count\{method="single"\} 1$/m);
    expect(metrics.body).toMatch(/^te_request_success\{method="batch"\} 1$/m);
    expect(metrics.body).toMatch(/^te_request_failure\{err="validation"\} 1$/m);
    expect(metrics.body).toMatch(/^te_request_duration_count 2$/m);
    expect(metrics.body).toMatch(/^te_request_queue_duration_count 2$/m);
    expect(metrics.body).toMatch(/^te_request_inference_duration_count 2$/m);
    expect(metrics.body).toMatch(/^te_queue_size 0$/m);
    // TEI's buckets: durations from 1.5e-5 s by x1.5 (35), batch sizes 1 ... 4096.
    const bounds = [...metrics.body.matchAll(/^te_request_duration_bucket\{le="([^"]+)"\} /gm)].map((m) => (m[1] === '+Inf' ? Infinity : Number(m[1])));
    expect(bounds).toHaveLength(36);
    expect(bounds[35]).toBe(Infinity); // "+Inf"
    expect(bounds[0]).toBeCloseTo(1.5e-5, 12);
    for (let i = 1; i < 35; i++) expect(bounds[i] / bounds[i - 1]).toBeCloseTo(1.5, 9);
    expect(metrics.body).toMatch(/^te_batch_next_size_bucket\{le="4096"\} /m);
    expect(metrics.body).toMatch(/^tce_pairs_total \d+$/m);
    expect(metrics.body).toMatch(/^te_batch_next_size_count [1-9]/m);
    expect(metrics.body).toMatch(/^tce_http_requests\{route="rerank",status="200"\} 1$/m);
    // Routes are labelled from a fixed set: an unknown path does not add series.
    await request(port, 'GET', '/wp-login.php');
    const after = (await request(port, 'GET', '/metrics')).body as string;
    expect(after).toMatch(/^tce_http_requests\{route="other",status="404"\} 1$/m);
    expect(after).not.toContain('wp-login');
  });

  test('empty lists as TEI: /rerank `texts` and /tokenize `inputs` are 400 Empty; /predict `inputs` is 422 (TEI\'s JSON parser refuses it)', async () => {
    const { port } = await start();
    const cases: Array<[string, unknown, number, string, RegExp]> = [
      ['/rerank', { query, texts: [] }, 400, 'Empty', /^`texts` cannot be empty$/],
      ['/tokenize', { inputs: [] }, 400, 'Empty', /^`inputs` cannot be empty$/],
      ['/v1/rerank', { query, documents: [] }, 400, 'Empty', /^`documents` cannot be empty$/],
      ['/predict', { inputs: [] }, 422, 'Validation', /non-empty array/],
    ];
    for (const [path, body, status, type, message] of cases) {
      const reply = await request(port, 'POST', path, body);
      expect({ path, status: reply.status, type: reply.body.error_type }).toEqual({ path, status, type });
      expect(reply.body.error).toMatch(message);
    }
  });

  test('a multi-label model on /rerank and /v1/rerank: 424, counted as te_request_failure{err="model_type"} and not in te_request_count (TEI)', async () => {
    const multi = await CrossEncoder.load(fixtureModel('tiny-3', { numLabels: 3, vocab: 'bert_base_uncased', legacyActivationKey: true }), { device: 'cpu' });
    try {
      const server = new RerankServer(multi);
      servers.push(server);
      const { port } = await server.listen(0);
      for (const [path, body] of [['/rerank', { query, texts: texts.slice(0, 2) }], ['/v1/rerank', { query, documents: texts.slice(0, 2) }]] as const) {
        const reply = await request(port, 'POST', path, body);
        expect({ path, status: reply.status }).toEqual({ path, status: 424 });
        expect(reply.body).toEqual({ error: expect.stringMatching(/^model is not a re-ranker model/), error_type: 'Backend' });
      }
      const predicted = await request(port, 'POST', '/predict', { inputs: [query, texts[0]] });
      expect(predicted.status).toBe(200);
      expect(predicted.body).toHaveLength(3);
      const metrics = (await request(port, 'GET', '/metrics')).body as string;
      expect(metrics).toMatch(/^te_request_failure\{err="model_type"\} 2$/m);
      expect(metrics).not.toMatch(/^te_request_failure\{err="inference"\}/m);
      expect(metrics).not.toMatch(/^te_request_count\{method="batch"\}/m);
      expect(metrics).toMatch(/^te_request_count\{method="single"\} 1$/m);
      await server.close();
    } finally {
      await multi.dispose();
    }
  });

  test('a log option that throws: the answer is sent, a warning is emitted per request, and the server goes on', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => {
      if ((warning as Error & { code?: string }).code === 'TCE_SERVER_LOG') warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const { port } = await start({ log: () => { throw new Error('log sink is broken'); } });
      expect((await request(port, 'GET', '/health')).status).toBe(200);
      const scored = await request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 2) });
      expect(scored.status).toBe(200);
      expect(scored.body).toHaveLength(2);
      await until(() => warnings.length === 2, 'a warning for each of the two requests');
      expect(warnings[0].message).toMatch(/log sink is broken/);
      expect((await request(port, 'GET', '/health')).status).toBe(200);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('graceful shutdown: no new connections, the request in flight is answered, then close() resolves', async () => {
    const gated = gatedModel(model);
    const server = new RerankServer(gated.model);
    servers.push(server);
    const { port } = await server.listen(0);
    const held = request(port, 'POST', '/rerank', { query, texts: texts.slice(0, 3) });
    await until(() => gated.state.waiting === 1, 'the request at the gate');
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await expect(request(port, 'GET', '/health')).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toBe(false);
    gated.open();
    const reply = await held;
    expect(reply.status).toBe(200);
    expect(reply.body).toHaveLength(3);
    await closing;
    expect(closed).toBe(true);
  });
});
