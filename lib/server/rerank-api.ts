/**
 * The Cohere / Jina rerank API that LiteLLM, LangChain's and LlamaIndex's Cohere and Jina
 * rerankers and most JS RAG stacks speak: POST /v1/rerank (and /v2/rerank, Cohere's v2 client)
 *
 *   { query, documents: [string | {text}], top_n?, return_documents?, model? }
 *   -> { id, results: [{ index, relevance_score, document?: {text} }], model, usage: {total_tokens},
 *        meta: {billed_units: {search_units: 1}} }
 *
 * best first; relevance_score is the sigmoid of the logit (in [0, 1], as those APIs promise).
 * Our own fields long_documents, window_tokens, stride and return_passage (results gain `passage`) are those of
 * TEI's /rerank here (tei-routes.ts, docs/SERVER.md); our `prompt` is rank()'s prompt option (a
 * causal-LM reranker's system message, else put before the query; default: the model's saved
 * default prompt).
 * Cohere's length fields are honoured (docs/SERVER.md):
 * - `max_tokens_per_doc` (Cohere's v2; default there 4096): each document is cut after its first
 *   that many of the model's tokens (without special tokens) before it is scored;
 * - `max_chunks_per_doc` (Cohere's v1): with long_documents 'max', 'mean' or 'first', each
 *   document is scored on its first that many windows at most (a chunk is a window: the passage
 *   returned is one of them); with
 *   'truncate' (the default) a document is one chunk, so any value is met.
 * Fields those APIs have and a local cross-encoder has no use for (rank_fields, priority) are
 * accepted and ignored.
 */
import { randomUUID } from 'node:crypto';
import type { Pair } from '../cross-encoder';
import { truncateDocuments } from '../long-documents';
import { type JsonObject, optionalBoolean } from './body';
import { HttpError } from './http-error';
import { EmptyError, ModelTypeError, type ScoringRequest } from './scoring';
import { fieldNames, longDocumentFields, teiActivation } from './tei-routes';

function documentText(value: unknown, index: number): string {
  if (typeof value === 'string') return value;
  const text = (value as { text?: unknown } | null)?.text;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof text === 'string') return text;
  throw new HttpError(422, 'Validation', `\`documents[${index}]\` must be a string or {"text": string}`);
}

/**
 * Cohere's defaults for its length fields, per API version (absent: none). Cohere's v1 default of
 * 10 chunks is not applied: windows are asked for with this server's own long_documents field,
 * which means every window (within max_windows_per_request), and without it a document is one chunk.
 */
const COHERE_DEFAULTS = {
  v1: { maxTokensPerDoc: undefined, maxChunksPerDoc: undefined },
  v2: { maxTokensPerDoc: 4096, maxChunksPerDoc: undefined },
} as const;

export type CohereVersion = keyof typeof COHERE_DEFAULTS;

function positiveInteger(body: JsonObject, name: string, fallback: number | undefined): number | undefined {
  const value = body[name] ?? fallback;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new HttpError(422, 'Validation', `\`${name}\` must be an integer >= 1, got ${JSON.stringify(value)}`);
  }
  return value;
}

export async function rerankApi(body: JsonObject, request: ScoringRequest, version: CohereVersion) {
  const { query, documents } = body;
  if (typeof query !== 'string') throw new HttpError(422, 'Validation', '`query` must be a string');
  if (!Array.isArray(documents)) throw new HttpError(422, 'Validation', '`documents` must be an array of strings or {"text": string} objects');
  const texts = documents.map(documentText);
  const topN = body.top_n ?? null;
  if (topN !== null && (typeof topN !== 'number' || !Number.isInteger(topN) || topN < 1)) {
    throw new HttpError(422, 'Validation', `\`top_n\` must be an integer >= 1, got ${JSON.stringify(topN)}`);
  }
  const returnDocuments = optionalBoolean(body, 'return_documents') ?? false;
  const maxTokensPerDoc = positiveInteger(body, 'max_tokens_per_doc', COHERE_DEFAULTS[version].maxTokensPerDoc);
  const maxChunksPerDoc = positiveInteger(body, 'max_chunks_per_doc', COHERE_DEFAULTS[version].maxChunksPerDoc);
  const long = longDocumentFields(body, true);
  const prompt = body.prompt ?? undefined;
  if (prompt !== undefined && typeof prompt !== 'string') throw new HttpError(422, 'Validation', `\`prompt\` must be a string, got ${JSON.stringify(prompt)}`);
  // Checked and counted in the order of TEI's /rerank (tei-routes.ts).
  if (texts.length === 0) throw new EmptyError('documents');
  if (request.model.numLabels !== 1) throw new ModelTypeError(request.model.numLabels, '');
  request.count('batch');
  request.checkBatchSize(texts.length);
  const { model, signal } = request;
  // What is scored: each document within max_tokens_per_doc, then its first max_chunks_per_doc
  // windows of the plan (the model scores that very plan: ScoringRequest.run()).
  const scored = maxTokensPerDoc === undefined ? texts : await truncateDocuments(model.tokenizer, texts, maxTokensPerDoc, signal);
  const pairs = scored.map((text): Pair => [query, text]);
  const ranked = await request.planWindows(pairs, long, 'documents')
    .then((plan) => (!plan ? pairs.length : maxChunksPerDoc === undefined ? plan.count : request.limitWindows(maxChunksPerDoc)))
    .then((count) => request.run(count, (options) => model.rank(query, scored, { ...options, ...long, ...teiActivation(1, false), ...(prompt !== undefined ? { prompt } : {}) }), pairs.length))
    .catch((error: unknown) => {
      throw fieldNames(error);
    });
  if (ranked.some((r) => Number.isNaN(r.score))) throw new HttpError(424, 'Backend', 'score is NaN');
  // usage.total_tokens: the tokens of each pair truncated to maxLength, which is what the model
  // read with long_documents 'truncate' (the default). With 'max', 'mean' or 'first' it counts
  // the same (not the windows' tokens: docs/SERVER.md), so that it does not depend on the mode. The
  // engine does not report them per call, so the pairs are tokenized again, once they are scored
  // and only for a client still there (the tokenizer takes no signal: checked before and after).
  if (signal.aborted) throw signal.reason;
  const encodings = await model.tokenizer.encodeBatch(pairs, { maxLength: model.maxLength });
  if (signal.aborted) throw signal.reason;
  const results = ranked.slice(0, topN ?? ranked.length).map((r) => ({
    index: r.corpusId,
    relevance_score: r.score,
    ...(returnDocuments ? { document: { text: texts[r.corpusId] } } : {}),
    ...(r.passage ? { passage: r.passage } : {}),
  }));
  return {
    id: randomUUID(),
    results,
    model: typeof body.model === 'string' ? body.model : request.modelId,
    usage: { total_tokens: encodings.reduce((sum, e) => sum + e.ids.length, 0) },
    meta: { billed_units: { search_units: 1 } },
  };
}
