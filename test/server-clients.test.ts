// The rerank server checked with clients users have, over loopback HTTP: huggingface_hub's
// InferenceClient (TEI's /info and /health) and Cohere's Python SDK (v1 and v2 rerank, v2 with
// max_tokens_per_doc), run from .venv-deploy (scripts/setup.sh). Their results are compared with a
// direct predict (of the documents cut to max_tokens_per_doc tokens here, with the Tokenizer).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CrossEncoder, type Pair } from '../lib/cross-encoder';
import { RerankServer } from '../lib/server/server';
import { repoRoot } from './helpers/child';
import { bioasqPairs, fixtureModel, modelTestsSkipReason } from './helpers/fixture-model';

const python = path.join(repoRoot, '.venv-deploy', 'bin', 'python');
const script = path.join(repoRoot, 'test', 'helpers', 'rerank_clients.py');
const reason = modelTestsSkipReason() ?? (fs.existsSync(python) ? null : '.venv-deploy (the clients: cohere, huggingface_hub) is missing: run scripts/setup.sh');
if (reason) console.warn(`server client tests skipped: ${reason}`);

/** Tokens a document keeps with the clients' max_tokens_per_doc (the documents are longer). */
const MAX_TOKENS_PER_DOC = 12;

/**
 * `text` cut after its first `maxTokens` tokens (without special tokens): the shortest prefix
 * that encodes to exactly the whole text's first `maxTokens` tokens, found with the Tokenizer by
 * encoding each prefix.
 */
function firstTokens(model: CrossEncoder, text: string, maxTokens: number): string {
  const encode = (t: string) => Array.from(model.tokenizer.encode(t, null, { addSpecialTokens: false }).ids);
  const first = encode(text).slice(0, maxTokens);
  for (let end = 1; end <= text.length; end++) {
    const prefix = text.slice(0, end);
    if (JSON.stringify(encode(prefix)) === JSON.stringify(first)) return prefix;
  }
  throw new Error(`no prefix of ${JSON.stringify(text.slice(0, 40))}... encodes to its first ${maxTokens} tokens`);
}

describe.skipIf(reason)('rerank server with real clients (huggingface_hub, cohere)', () => {
  let model: CrossEncoder;
  let server: RerankServer;
  let url: string;
  const pairs = bioasqPairs(12);
  const query = pairs[0][0];
  const documents = pairs.map(([, d]) => d);

  beforeAll(async () => {
    model = await CrossEncoder.load(fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' }), { device: 'cpu' });
    server = new RerankServer(model, { apiKey: 'client-key', modelId: 'tiny' });
    const { port } = await server.listen(0);
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await server?.close();
    await model?.dispose();
  });

  test('each client gets the scores of a direct predict, in its own schema', async () => {
    // The clients run in a child process while this one serves (spawnSync would block the server).
    const child = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(python, [script, url, 'client-key'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (c) => (stdout += c));
      p.stderr.on('data', (c) => (stderr += c));
      p.on('close', (status) => resolve({ status, stdout, stderr }));
      p.stdin.end(JSON.stringify({ query, documents, max_tokens_per_doc: MAX_TOKENS_PER_DOC }));
    });
    expect(child.stderr.split('\n').filter((l) => /Error|Traceback/.test(l))).toEqual([]);
    expect(child.status).toBe(0);
    const out = JSON.parse(child.stdout);
    const expected = (await model.predict(documents.map((d): Pair => [query, d]))) as Float32Array;
    const best = Array.from(expected, (s, i) => [s, i]).sort((a, b) => b[0] - a[0]).map(([, i]) => i);

    expect(out.hf_info).toEqual(expect.objectContaining({ model_id: 'tiny', model_type: { reranker: { id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } } }, max_input_length: 512 }));
    expect(out.hf_health).toBe(true);
    expect(out.hf_health_no_key).toBe(true);
    expect(out.hf_info_no_key).toBe(401);

    expect(out.cohere_v1.map((r: { index: number }) => r.index)).toEqual(best.slice(0, 3));
    for (const r of out.cohere_v1) {
      expect(Math.abs(r.relevance_score - expected[r.index])).toBeLessThanOrEqual(1e-5);
      expect(r.text).toBe(documents[r.index]);
    }
    expect(out.cohere_v1_meta).toBe(1);
    expect(out.cohere_v2.map((r: { index: number }) => r.index)).toEqual(best);
    for (const r of out.cohere_v2) expect(Math.abs(r.relevance_score - expected[r.index])).toBeLessThanOrEqual(1e-5);
    expect(out.cohere_wrong_key).toBe(401);

    // max_tokens_per_doc: each document cut after its first that many tokens.
    const cut = documents.map((d) => firstTokens(model, d, MAX_TOKENS_PER_DOC));
    expect(cut.filter((c, i) => c.length < documents[i]!.length).length).toBe(documents.length);
    const truncated = (await model.predict(cut.map((d): Pair => [query, d]))) as Float32Array;
    expect(out.cohere_v2_max_tokens).toHaveLength(documents.length);
    for (const r of out.cohere_v2_max_tokens) expect(Math.abs(r.relevance_score - truncated[r.index]!)).toBeLessThanOrEqual(1e-5);
    // The cut changes what is scored: the scores differ from the whole documents'.
    expect(out.cohere_v2_max_tokens.some((r: { index: number; relevance_score: number }) => Math.abs(r.relevance_score - expected[r.index]!) > 1e-4)).toBe(true);
  });
});
