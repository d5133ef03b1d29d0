/**
 * text-embeddings-inference 1.x's scoring routes on a cross-encoder: POST /rerank (also POST / and
 * /invocations, as TEI serves a reranker for SageMaker), POST /predict and POST /tokenize, with
 * TEI's request fields, answers, scores (raw_scores: logits; otherwise sigmoid on one label,
 * softmax over several) and errors.
 */
import type { LongDocuments, Pair } from '../cross-encoder';
import { TceError } from '../errors';
import { LONG_DOCUMENTS } from '../long-documents';
import { enumOption } from '../validate';
import { type JsonObject, optionalBoolean } from './body';
import { HttpError } from './http-error';
import { EmptyError, type LongDocumentFields, ModelTypeError, type ScoringRequest, StreamedAnswer } from './scoring';

/** Model-call options that give TEI's scores. */
export function teiActivation(numLabels: number, rawScores: boolean) {
  if (rawScores) return { activation: 'identity' as const };
  return numLabels === 1 ? { activation: 'sigmoid' as const } : { activation: 'identity' as const, applySoftmax: true };
}

function stringArray(body: JsonObject, name: string): string[] {
  const value = body[name];
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) {
    throw new HttpError(422, 'Validation', `\`${name}\` must be an array of strings`);
  }
  return value as string[];
}

/** TEI's truncation fields: truncation is always on unless `truncate: false`; only 'right' is done. */
export function truncation(body: JsonObject): { truncate: boolean } {
  const truncate = optionalBoolean(body, 'truncate') ?? true;
  const direction = body.truncation_direction;
  if (direction !== undefined && direction !== null && !(typeof direction === 'string' && /^right$/i.test(direction))) {
    throw new HttpError(422, 'Validation', `truncation_direction ${JSON.stringify(direction)} is not supported: pairs are truncated longest-first, keeping their first tokens ('right')`);
  }
  return { truncate };
}

/**
 * Our fields for documents longer than the model's window (docs/LONG-DOCUMENTS.md), as
 * predict()/rank() options: `long_documents` ('truncate', 'max', 'mean', 'first'), `window_tokens`
 * (document tokens a window; default the server's --window-tokens) and `stride` (tokens
 * consecutive windows share), and on the rerank routes `return_passage`. The mode is
 * checked here with the library's check (a 422 before anything is counted or scored); stride's
 * bounds depend on each pair and, like the fields' combinations, are the library's to check
 * (TCE_INVALID_OPTION, a 422 that fieldNames() words in these fields).
 */
export function longDocumentFields(body: JsonObject, rerank: boolean): LongDocumentFields & { returnPassage?: boolean } {
  let longDocuments: LongDocuments | undefined;
  try {
    longDocuments = enumOption('long_documents', body.long_documents ?? undefined, LONG_DOCUMENTS);
  } catch (error) {
    throw new HttpError(422, 'Validation', `\`long_documents\`${(error as Error).message.slice('long_documents'.length)}`);
  }
  const stride = body.stride ?? undefined;
  if (stride !== undefined && typeof stride !== 'number') throw new HttpError(422, 'Validation', `\`stride\` must be a number, got ${JSON.stringify(stride)}`);
  const windowTokens = body.window_tokens ?? undefined;
  if (windowTokens !== undefined && typeof windowTokens !== 'number') throw new HttpError(422, 'Validation', `\`window_tokens\` must be a number, got ${JSON.stringify(windowTokens)}`);
  const returnPassage = rerank ? optionalBoolean(body, 'return_passage') : undefined;
  return {
    ...(longDocuments !== undefined ? { longDocuments } : {}),
    ...(windowTokens !== undefined ? { windowTokens } : {}),
    ...(stride !== undefined ? { stride } : {}),
    ...(returnPassage !== undefined ? { returnPassage } : {}),
  };
}

const FIELD_OF_OPTION: Record<string, string> = { longDocuments: 'long_documents', windowTokens: 'window_tokens', returnPassage: 'return_passage' };

/**
 * A library error about the long-document options, in the request's field names ("returnPassage
 * needs longDocuments 'max'..." reads "return_passage needs long_documents 'max'..."); other errors
 * pass unchanged.
 */
export function fieldNames(error: unknown): unknown {
  if (!(error instanceof TceError) || (error.code !== 'TCE_INVALID_OPTION' && error.code !== 'TCE_INVALID_INPUT')) return error;
  const message = error.message.replace(/\b(longDocuments|windowTokens|returnPassage)\b/g, (name: string) => FIELD_OF_OPTION[name]!);
  return message === error.message ? error : new TceError(error.code, message, { cause: error });
}

/**
 * TEI's `truncate: false`: a pair longer than the model takes is an error, not cut. Not with
 * long_documents 'max', 'mean' or 'first': their windows fit by construction and are never cut.
 */
export async function checkLengths(request: ScoringRequest, pairs: Pair[], longDocuments: LongDocuments | undefined): Promise<void> {
  if (longDocuments !== undefined && longDocuments !== 'truncate') return;
  const { model } = request;
  const encodings = await model.tokenizer.encodeBatch(pairs);
  const longest = Math.max(...encodings.map((e) => e.ids.length));
  if (longest > model.maxLength) {
    throw new HttpError(422, 'Validation', `Input validation error: \`inputs\` must have less than ${model.maxLength} tokens. Given: ${longest}`);
  }
}

function checkNotNaN(scores: ArrayLike<number>): void {
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new HttpError(424, 'Backend', 'score is NaN');
  }
}

export async function rerank(body: JsonObject, request: ScoringRequest) {
  // TEI's order: its JSON parsing (the fields' types), the empty list, the model's type, then
  // the request counts (te_request_count) and its size is checked.
  const { query } = body;
  if (typeof query !== 'string') throw new HttpError(422, 'Validation', '`query` must be a string');
  const texts = stringArray(body, 'texts');
  const rawScores = optionalBoolean(body, 'raw_scores') ?? false;
  const returnText = optionalBoolean(body, 'return_text') ?? false;
  const { truncate } = truncation(body);
  const long = longDocumentFields(body, true);
  if (texts.length === 0) throw new EmptyError('texts');
  if (request.model.numLabels !== 1) throw new ModelTypeError(request.model.numLabels, ': use /predict');
  request.count('batch');
  request.checkBatchSize(texts.length);
  const pairs = texts.map((text): Pair => [query, text]);
  if (!truncate) await checkLengths(request, pairs, long.longDocuments);
  const ranked = await request.countWindows(pairs, long, 'documents')
    .then((windows) => request.run(windows, (options) => request.model.rank(query, texts, { ...options, ...long, ...teiActivation(1, rawScores) }), pairs.length))
    .catch((error: unknown) => {
      throw fieldNames(error);
    });
  checkNotNaN(ranked.map((r) => r.score));
  return ranked.map((r) => ({
    index: r.corpusId,
    ...(returnText ? { text: texts[r.corpusId] } : {}),
    score: r.score,
    ...(r.passage ? { passage: r.passage } : {}),
  }));
}

/** One TEI predict input: a [query, document] pair (a single text is not something a cross-encoder scores). */
function pairOf(value: unknown, where: string): Pair {
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') return [value[0], value[1]];
  if (typeof value === 'string' || (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string')) {
    throw new HttpError(422, 'Validation', `${where} is a single text: this model is a cross-encoder and scores [query, document] pairs`);
  }
  throw new HttpError(422, 'Validation', `${where} must be a [string, string] pair (\`inputs\`: a pair, or an array of pairs)`);
}

export async function predict(body: JsonObject, request: ScoringRequest) {
  const { inputs } = body;
  const single = typeof inputs === 'string' || (Array.isArray(inputs) && inputs.length > 0 && typeof inputs[0] === 'string');
  // An empty `inputs` is a 422, not a 400: TEI's JSON parser refuses it before any check of its own.
  if (!single && (!Array.isArray(inputs) || inputs.length === 0)) {
    throw new HttpError(422, 'Validation', '`inputs` must be a [query, document] pair or a non-empty array of them');
  }
  const pairs = single ? [pairOf(inputs, '`inputs`')] : (inputs as unknown[]).map((p, i) => pairOf(p, `\`inputs[${i}]\``));
  const rawScores = optionalBoolean(body, 'raw_scores') ?? false;
  const { truncate } = truncation(body);
  const long = longDocumentFields(body, false);
  // Counted (te_request_count) once parsed, before the size check, as TEI.
  request.count(single ? 'single' : 'batch');
  if (!single) request.checkBatchSize(pairs.length);
  const { model, labels } = request;
  if (!truncate) await checkLengths(request, pairs, long.longDocuments);
  const scores = await request.countWindows(pairs, long, 'pairs')
    .then((windows) => request.run(windows, (options) => model.predict(pairs, { ...options, ...long, ...teiActivation(model.numLabels, rawScores) }), pairs.length))
    .catch((error: unknown) => {
      throw fieldNames(error);
    });
  const rows = model.numLabels === 1 ? Array.from(scores as Float32Array, (s) => [s]) : (scores as Float32Array[]).map((row) => Array.from(row));
  // Each input: every label with its score, best first, as TEI.
  const predictions = rows.map((row) => {
    checkNotNaN(row);
    return row.map((score, i) => ({ score, label: labels.id2label[String(i)] })).sort((a, b) => b.score - a.score);
  });
  return single ? predictions[0] : predictions;
}

/** Tokens per piece of a streamed /tokenize answer (about 30 KB of JSON). */
const TOKENS_PER_PIECE = 512;

export async function tokenize(body: JsonObject, request: ScoringRequest) {
  // Not counted in te_request_count (as TEI); it takes a concurrency permit per input, held until
  // its answer is written, so that the tokenizing and the answers in memory are bounded as scoring is.
  const { inputs } = body;
  const single = typeof inputs === 'string';
  // TEI tokenizes texts; a [query, document] pair is tokenized as the model sees it.
  const items = single ? [inputs] : inputs;
  if (!Array.isArray(items) || items.some((t) => typeof t !== 'string' && !(Array.isArray(t) && t.length === 2 && t.every((s) => typeof s === 'string')))) {
    throw new HttpError(422, 'Validation', '`inputs` must be a string, or an array of strings or [string, string] pairs');
  }
  if (items.length === 0) throw new EmptyError('inputs');
  request.checkBatchSize(items.length);
  const addSpecialTokens = optionalBoolean(body, 'add_special_tokens') ?? true;
  const texts = items as Array<string | [string, string]>;
  request.hold(texts.length);
  const { tokenizer } = request.model;
  const encoded = await tokenizer.encodeBatch(texts, { addSpecialTokens });
  if (request.signal.aborted) throw request.signal.reason;
  // TEI's `special`: the tokens the template added (those missing when encoded without it).
  const plain = addSpecialTokens ? await tokenizer.encodeBatch(texts, { addSpecialTokens: false }) : encoded;
  if (request.signal.aborted) throw request.signal.reason;
  // About 20 bytes of JSON per byte of text: written as the client reads it (StreamedAnswer).
  return new StreamedAnswer(function* pieces() {
    yield '[';
    for (let i = 0; i < encoded.length; i++) {
      const { ids, tokens } = encoded[i]!;
      const added = addedPositions(ids, plain[i]!.ids);
      yield i === 0 ? '[' : ',[';
      for (let from = 0; from < ids.length; from += TOKENS_PER_PIECE) {
        const to = Math.min(ids.length, from + TOKENS_PER_PIECE);
        const parts: string[] = [];
        // Character offsets are not tracked by this tokenizer: start and stop are null (TEI allows it).
        for (let k = from; k < to; k++) parts.push(JSON.stringify({ id: ids[k], text: tokens[k], special: added.has(k), start: null, stop: null }));
        yield (from === 0 ? '' : ',') + parts.join(',');
      }
      yield ']';
    }
    yield ']';
  });
}

/** Positions of `withSpecial` that are not part of `plain`, which it holds in order. */
function addedPositions(withSpecial: ArrayLike<number>, plain: ArrayLike<number>): Set<number> {
  const added = new Set<number>();
  let j = 0;
  for (let k = 0; k < withSpecial.length; k++) {
    // A greedy walk: the template only inserts tokens ([CLS], a pair's middle [SEP], ...).
    if (j < plain.length && withSpecial[k] === plain[j]) j++;
    else added.add(k);
  }
  return added;
}
