// The rerank server's long-document fields over real loopback HTTP (docs/SERVER.md, *Long
// documents*): /rerank and /v1/rerank with long_documents, window_tokens (and the server's
// windowTokens) and return_passage, and /predict with long_documents and stride, answer the library's own scores and passages for the same options
// (the library is tested against sentence-transformers in test/long-documents.models.test.ts;
// this checks the plumbing); `truncate: false` refuses nothing with a window mode; values the
// library refuses, and fields of the wrong type, are 422 in the request's field names.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { CrossEncoder, type Pair, type RankResult } from '../lib/cross-encoder';
import { planWindows } from '../lib/long-documents';
import { RerankServer } from '../lib/server/server';
import { repoRoot } from './helpers/child';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';
import { request } from './helpers/server-http';

const reason = modelTestsSkipReason();
if (reason) console.warn(`server long-document tests skipped: ${reason}`);

/** The same pairs scored in other batches (other padding). */
const TOLERANCE = 1e-6;
/** Small enough that PubMed abstracts take several windows beside a BioASQ question. */
const MAX_LENGTH = 64;

describe.skipIf(reason)('rerank server: long_documents, stride, return_passage', () => {
  let model: CrossEncoder;
  let server: RerankServer;
  let port: number;
  const abstracts = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer', 'pubmed_sample.jsonl'), 'utf8')
    .split('\n').filter(Boolean).slice(10, 16).map((line) => (JSON.parse(line) as { text: string }).text);
  const short = bioasqPairs(2);
  const query = short[1][0];
  const texts = [abstracts[0]!, short[0][1], ...abstracts.slice(1), short[1][1]];
  let expectedMax: RankResult[];
  let expectedFirst: RankResult[];

  beforeAll(async () => {
    model = await CrossEncoder.load(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), { device: 'cpu', maxLength: MAX_LENGTH });
    server = new RerankServer(model, {});
    ({ port } = await server.listen(0));
    // TEI's scores on a one-label model are the sigmoid of the logit, whatever the model's config says.
    expectedMax = await model.rank(query, texts, { longDocuments: 'max', returnPassage: true, activation: 'sigmoid' });
    expectedFirst = await model.rank(query, texts, { longDocuments: 'first', stride: 4, returnPassage: true, activation: 'sigmoid' });
  });

  afterAll(async () => {
    await server?.close();
    await model?.dispose();
  });

  function expectRanked(got: Array<{ index: number; passage: unknown }>, scores: number[], expected: RankResult[]) {
    expect(got.map((r) => r.index)).toEqual(expected.map((e) => e.corpusId));
    scores.forEach((score, i) => expect(Math.abs(score - expected[i]!.score)).toBeLessThanOrEqual(TOLERANCE));
    got.forEach((r, i) => expect(r.passage).toEqual(expected[i]!.passage));
  }

  test('the documents need windows: the best passages are shorter than their documents', () => {
    expect(expectedMax.filter((r) => r.passage!.end - r.passage!.start < texts[r.corpusId]!.length).length).toBeGreaterThanOrEqual(abstracts.length);
    for (const r of expectedMax) expect(r.passage!.text).toBe(texts[r.corpusId]!.slice(r.passage!.start, r.passage!.end));
  });

  test('POST /rerank (and / and /invocations) with long_documents and return_passage: the library\'s ranking and passages', async () => {
    for (const route of ['/rerank', '/', '/invocations']) {
      const reply = await request(port, 'POST', route, { query, texts, long_documents: 'max', return_passage: true, return_text: true });
      expect({ route, status: reply.status }).toEqual({ route, status: 200 });
      expectRanked(reply.body, reply.body.map((r: { score: number }) => r.score), expectedMax);
      for (const r of reply.body) expect(r.text).toBe(texts[r.index]);
    }
    const first = await request(port, 'POST', '/rerank', { query, texts, long_documents: 'first', stride: 4, return_passage: true });
    expect(first.status).toBe(200);
    expectRanked(first.body, first.body.map((r: { score: number }) => r.score), expectedFirst);
    // Without return_passage, no passage.
    const plain = await request(port, 'POST', '/rerank', { query, texts, long_documents: 'max' });
    expect(plain.status).toBe(200);
    expect(plain.body.map((r: object) => Object.keys(r).sort())).toEqual(texts.map(() => ['index', 'score']));
    expect(plain.body.map((r: { score: number }) => r.score)).toEqual(expectedMax.map((e) => expect.closeTo(e.score, 6)));
  });

  test('POST /v1/rerank and /v2/rerank with long_documents and return_passage: the library\'s ranking and passages', async () => {
    const truncated = await request(port, 'POST', '/v1/rerank', { query, documents: texts });
    expect(truncated.status).toBe(200);
    for (const route of ['/v1/rerank', '/v2/rerank']) {
      const reply = await request(port, 'POST', route, { query, documents: texts.map((text) => ({ text })), long_documents: 'max', return_passage: true, top_n: 4, return_documents: true });
      expect({ route, status: reply.status }).toEqual({ route, status: 200 });
      const results = reply.body.results;
      expect(results).toHaveLength(4);
      expectRanked(results, results.map((r: { relevance_score: number }) => r.relevance_score), expectedMax.slice(0, 4));
      for (const r of results) expect(r.document).toEqual({ text: texts[r.index] });
      // usage.total_tokens counts the pairs truncated to maxLength in every mode (docs/SERVER.md).
      expect(reply.body.usage.total_tokens).toBe(truncated.body.usage.total_tokens);
      expect(reply.body.usage.total_tokens).toBeLessThanOrEqual(texts.length * MAX_LENGTH);
    }
  });

  test('POST /predict with long_documents mean and stride: the library\'s scores', async () => {
    const pairs = texts.map((d): Pair => [query, d]);
    const expected = (await model.predict(pairs, { longDocuments: 'mean', stride: 8, activation: 'sigmoid' })) as Float32Array;
    const truncated = (await model.predict(pairs, { activation: 'sigmoid' })) as Float32Array;
    // The modes differ on these documents, so the field must have reached the model.
    expect(Array.from(expected).filter((s, i) => Math.abs(s - truncated[i]!) > 1e-4).length).toBeGreaterThanOrEqual(abstracts.length);
    const reply = await request(port, 'POST', '/predict', { inputs: pairs, long_documents: 'mean', stride: 8 });
    expect(reply.status).toBe(200);
    reply.body.forEach((labels: Array<{ score: number }>, i: number) => expect(Math.abs(labels[0]!.score - expected[i]!)).toBeLessThanOrEqual(TOLERANCE));
  });

  test('window_tokens, and the server\'s --window-tokens for requests without it: the library\'s scores and passages for that window', async () => {
    const expected = await model.rank(query, texts, { longDocuments: 'max', windowTokens: 20, returnPassage: true, activation: 'sigmoid' });
    // A window of 20 tokens scores these documents otherwise than the default window.
    expect(expected.filter((e) => e.passage!.end - e.passage!.start < expectedMax.find((m) => m.corpusId === e.corpusId)!.passage!.end - expectedMax.find((m) => m.corpusId === e.corpusId)!.passage!.start).length).toBeGreaterThanOrEqual(abstracts.length);
    const asked = await request(port, 'POST', '/rerank', { query, texts, long_documents: 'max', window_tokens: 20, return_passage: true });
    expect(asked.status).toBe(200);
    expectRanked(asked.body, asked.body.map((r: { score: number }) => r.score), expected);
    const small = new RerankServer(model, { windowTokens: 20 });
    try {
      const { port: smallPort } = await small.listen(0);
      const byDefault = await request(smallPort, 'POST', '/v1/rerank', { query, documents: texts, long_documents: 'max', return_passage: true });
      expect(byDefault.status).toBe(200);
      expectRanked(byDefault.body.results, byDefault.body.results.map((r: { relevance_score: number }) => r.relevance_score), expected);
      // A request's own window_tokens wins over the server's.
      const own = await request(smallPort, 'POST', '/rerank', { query, texts, long_documents: 'max', window_tokens: 1000, return_passage: true });
      expectRanked(own.body, own.body.map((r: { score: number }) => r.score), expectedMax);
      // 'truncate' requests have no windows: the server's window does not apply to them.
      const truncated = await request(smallPort, 'POST', '/rerank', { query, texts });
      expect(truncated.status).toBe(200);
    } finally {
      await small.close();
    }
    expect(() => new RerankServer(model, { windowTokens: 0 })).toThrow(/windowTokens must be an integer from 1/);
  });

  test('the windows are planned once a request: the tokenizer does the work of one plan, not two', async () => {
    const encodeBatch = vi.spyOn(model.tokenizer, 'encodeBatch');
    try {
      await planWindows(model.tokenizer, texts.map((t): Pair => [query, t]), { maxLength: MAX_LENGTH, windowTokens: undefined, stride: undefined, mode: 'max' }, String);
      const onePlan = encodeBatch.mock.calls.length;
      expect(onePlan).toBeGreaterThan(0);
      encodeBatch.mockClear();
      const reply = await request(port, 'POST', '/rerank', { query, texts, long_documents: 'max' });
      expect(reply.status).toBe(200);
      expect(encodeBatch.mock.calls.length).toBe(onePlan);
    } finally {
      encodeBatch.mockRestore();
    }
  });

  test('truncate: false refuses an over-long pair only with long_documents truncate (windows are never cut)', async () => {
    const refused = await request(port, 'POST', '/rerank', { query, texts, truncate: false });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toContain(`must have less than ${MAX_LENGTH} tokens`);
    const explicit = await request(port, 'POST', '/predict', { inputs: [query, texts[0]], truncate: false, long_documents: 'truncate' });
    expect(explicit.status).toBe(422);
    const windows = await request(port, 'POST', '/rerank', { query, texts, truncate: false, long_documents: 'max', return_passage: true });
    expect(windows.status).toBe(200);
    expectRanked(windows.body, windows.body.map((r: { score: number }) => r.score), expectedMax);
  });

  test('Cohere\'s max_chunks_per_doc: 1 chunk of long_documents max is the first window (the library\'s \'first\'); a window each, no more', async () => {
    const expectedFirstDefault = await model.rank(query, texts, { longDocuments: 'first', returnPassage: true, activation: 'sigmoid' });
    for (const route of ['/v1/rerank', '/v2/rerank']) {
      const before = model.stats();
      const reply = await request(port, 'POST', route, { query, documents: texts, long_documents: 'max', max_chunks_per_doc: 1, return_passage: true });
      expect({ route, status: reply.status }).toEqual({ route, status: 200 });
      const results = reply.body.results;
      expectRanked(results, results.map((r: { relevance_score: number }) => r.relevance_score), expectedFirstDefault);
      expect(model.stats().pairs - before.pairs).toBe(texts.length);
    }
    // Enough chunks for every window: the same as without the field.
    const all = await request(port, 'POST', '/v1/rerank', { query, documents: texts, long_documents: 'max', max_chunks_per_doc: 1000, return_passage: true });
    expectRanked(all.body.results, all.body.results.map((r: { relevance_score: number }) => r.relevance_score), expectedMax);
  });

  test('bad values and types are 422 Validation errors in the request\'s field names', async () => {
    const cases: Array<{ route: string; body: object; says: string }> = [
      { route: '/rerank', body: { query, texts, long_documents: 'longest' }, says: "`long_documents` must be one of 'truncate', 'max', 'mean', 'first'" },
      { route: '/v1/rerank', body: { query, documents: texts, long_documents: 7 }, says: '`long_documents` must be one of' },
      { route: '/predict', body: { inputs: [query, texts[0]], long_documents: 'MAX' }, says: '`long_documents` must be one of' },
      { route: '/rerank', body: { query, texts, long_documents: 'max', stride: '8' }, says: '`stride` must be a number' },
      { route: '/rerank', body: { query, texts, long_documents: 'max', return_passage: 'yes' }, says: '`return_passage` must be a boolean' },
      { route: '/rerank', body: { query, texts, return_passage: true }, says: "return_passage needs long_documents 'max', 'mean' or 'first'" },
      { route: '/v1/rerank', body: { query, documents: texts, stride: 8 }, says: "stride applies to long_documents 'max', 'mean' or 'first'" },
      { route: '/predict', body: { inputs: [query, texts[0]], long_documents: 'max', stride: 2.5 }, says: 'stride must be an integer from 0' },
      { route: '/v1/rerank', body: { query, documents: texts, long_documents: 'first', stride: 1000 }, says: 'stride 1000 must be smaller than the window of documents[0]' },
      { route: '/rerank', body: { query, texts, long_documents: 'max', window_tokens: '8' }, says: '`window_tokens` must be a number' },
      { route: '/rerank', body: { query, texts, window_tokens: 8 }, says: "window_tokens applies to long_documents 'max', 'mean' or 'first'" },
      { route: '/predict', body: { inputs: [query, texts[0]], long_documents: 'max', window_tokens: 0 }, says: 'window_tokens must be an integer from 1' },
      { route: '/v1/rerank', body: { query, documents: texts, long_documents: 'max', window_tokens: 8, stride: 8 }, says: 'stride 8 must be smaller than the window of documents[0]: window_tokens 8.' },
      { route: '/v2/rerank', body: { query, documents: texts, max_tokens_per_doc: 0 }, says: '`max_tokens_per_doc` must be an integer >= 1' },
      { route: '/v2/rerank', body: { query, documents: texts, max_tokens_per_doc: '512' }, says: '`max_tokens_per_doc` must be an integer >= 1' },
      { route: '/v1/rerank', body: { query, documents: texts, max_chunks_per_doc: 1.5 }, says: '`max_chunks_per_doc` must be an integer >= 1' },
    ];
    for (const { route, body, says } of cases) {
      const reply = await request(port, 'POST', route, body);
      expect({ route, body, status: reply.status, type: reply.body.error_type }).toEqual({ route, body, status: 422, type: 'Validation' });
      expect({ route, body, error: reply.body.error }).toEqual({ route, body, error: expect.stringContaining(says) });
      expect({ route, body, error: reply.body.error }).toEqual({ route, body, error: expect.not.stringMatching(/longDocuments|returnPassage|windowTokens/) });
    }
  });
});
