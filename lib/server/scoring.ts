/**
 * What a scoring handler needs from the server for one request: the model, the limits, the
 * connection's AbortSignal (the client going away, or the shutdown grace running out, stops its
 * work), and call options that feed the queue metrics.
 */
import type { CrossEncoder, LongDocuments, Pair } from '../cross-encoder';
import { planWindows, WINDOW_PLAN, type WindowPlan } from '../long-documents';
import { integerOption } from '../validate';
import { HttpError } from './http-error';
import type { Labels } from './info';
import type { FailureCause, RequestMethod, ServerMetrics } from './metrics';
import { OverloadedError, type PairPermits } from './permits';

/** TEI's batch size error (422), counted apart as te_request_failure{err="batch_size"}. */
export class BatchSizeError extends HttpError {
  constructor(count: number, limit: number) {
    super(422, 'Validation', `batch size ${count} > maximum allowed batch size ${limit}`);
  }
}

/** A request whose pairs (windows of long documents counted one each) are more than maxWindowsPerRequest (413). */
export class TooManyWindowsError extends HttpError {
  constructor(count: number, limit: number) {
    super(413, 'PayloadTooLarge', `the request needs ${count} pairs scored (windows of long documents counted one each), more than max_windows_per_request (${limit}) allows; send fewer or shorter documents, or a larger stride`);
  }
}

/**
 * An answer written piece by piece as the client reads it (server.ts waits for each piece to
 * drain before it asks for the next): a client that does not read holds one piece and the
 * socket's buffers, never the whole answer.
 */
export class StreamedAnswer {
  constructor(readonly pieces: () => Iterable<string>) {}
}

/** TEI's empty list (400), counted as te_request_failure{err="validation"} (not in te_request_count). */
export class EmptyError extends HttpError {
  constructor(field: string) {
    super(400, 'Empty', `\`${field}\` cannot be empty`);
  }
}

/** A rerank on a model that is not a reranker (424), te_request_failure{err="model_type"} as TEI. */
export class ModelTypeError extends HttpError {
  constructor(numLabels: number, hint: string) {
    super(424, 'Backend', `model is not a re-ranker model (it has ${numLabels} labels)${hint}`);
  }
}

/**
 * The te_request_failure cause of an error, as TEI counts it, and whether TEI counts it even
 * when the request was not (yet) counted in te_request_count: an empty list, a model of the
 * wrong type and a batch over the size limit are; a request TEI's JSON parser refuses (a field
 * of the wrong type) is counted nowhere.
 */
export function failureCause(error: unknown, status: number): { cause: FailureCause; always: boolean } {
  if (error instanceof BatchSizeError) return { cause: 'batch_size', always: true };
  if (error instanceof EmptyError) return { cause: 'validation', always: true };
  if (error instanceof ModelTypeError) return { cause: 'model_type', always: true };
  if (error instanceof OverloadedError) return { cause: 'overloaded', always: false };
  if (error instanceof TooManyWindowsError) return { cause: 'overloaded', always: false };
  return { cause: status < 500 && status !== 424 ? 'validation' : 'inference', always: false };
}

/** A request's long-document fields, as predict()/rank() options (tei-routes.ts longDocumentFields). */
export interface LongDocumentFields {
  longDocuments?: LongDocuments;
  windowTokens?: number;
  stride?: number;
}

export class ScoringRequest {
  /** TEI's method label: "single" for a /predict of one input, "batch" otherwise. */
  method: RequestMethod = 'batch';
  /** Pairs this request has the engine score, windows counted one each (logs). */
  pairs = 0;
  /** Permits held until the answer is written (hold()). */
  private held: Array<() => void> = [];
  /** The windows planned for this request (planWindows()), handed to the model call (run()) so that they are planned once. */
  private plan: WindowPlan | undefined;
  /**
   * Whether it is counted in te_request_count: a handler calls count() where TEI counts (after
   * its JSON parsing and its empty-list and model-type checks); /tokenize never does.
   */
  counted = false;

  constructor(
    readonly model: CrossEncoder,
    readonly labels: Labels,
    readonly modelId: string,
    readonly maxClientBatchSize: number,
    readonly maxWindowsPerRequest: number,
    /** Document tokens a window for requests that do not say (`window_tokens`); undefined: the library's default. */
    readonly windowTokens: number | undefined,
    readonly signal: AbortSignal,
    private readonly metrics: ServerMetrics,
    private readonly permits: PairPermits,
  ) {}

  /** Counts this request in te_request_count{method} from here on (TEI's point). */
  count(method: RequestMethod = this.method): void {
    this.method = method;
    this.counted = true;
  }

  /** TEI's batch size check (422, te_request_failure{err="batch_size"}). */
  checkBatchSize(count: number): void {
    if (count > this.maxClientBatchSize) {
      throw new BatchSizeError(count, this.maxClientBatchSize);
    }
  }

  /**
   * Options for one model call of `pairs` pairs: the signal, and progress that keeps te_queue_size
   * (pairs not yet scored) and the queue and inference durations.
   */
  callOptions(pairs: number) {
    const metrics = this.metrics;
    const submitted = process.hrtime.bigint();
    let firstScored: bigint | null = null;
    let waiting = pairs;
    metrics.queueSize.inc(pairs);
    const onProgress = (done: number) => {
      const now = process.hrtime.bigint();
      if (firstScored === null) {
        firstScored = now;
        metrics.queueDuration.observe(Number(now - submitted) / 1e9);
      }
      const left = pairs - done;
      metrics.queueSize.dec(waiting - left);
      waiting = left;
      if (left === 0) metrics.inferenceDuration.observe(Number(now - firstScored) / 1e9);
    };
    /** Call once the model call settled: pairs never scored (aborted, failed) leave the queue. */
    const settle = () => {
      metrics.queueSize.dec(waiting);
      waiting = 0;
    };
    // The plan made for this request (planWindows()), so that the model scores it without planning again.
    const planned = this.plan ? { [WINDOW_PLAN]: this.plan } : {};
    return { options: { signal: this.signal, onProgress, ...planned }, settle };
  }

  /**
   * The windows the library will score for `pairs` with these long-document options (its own plan:
   * lib/long-documents), or undefined with 'truncate', where each pair is one. Planned under the
   * request's signal, before any permit is taken, and kept for the model call (run()), which scores
   * this very plan instead of planning it again.
   */
  async planWindows(pairs: readonly Pair[], long: LongDocumentFields, field: 'documents' | 'pairs'): Promise<WindowPlan | undefined> {
    const mode = long.longDocuments ?? 'truncate';
    this.plan = undefined;
    if (mode === 'truncate') return undefined;
    // The library's own checks (TCE_INVALID_OPTION, a 422), before they are planned with.
    const stride = integerOption('stride', long.stride);
    const windowTokens = integerOption('windowTokens', long.windowTokens) ?? this.windowTokens;
    this.plan = await planWindows(
      this.model.tokenizer,
      pairs,
      { maxLength: this.model.maxLength, windowTokens, stride, mode, signal: this.signal },
      (i) => `${field}[${i}]`,
    );
    return this.plan;
  }

  /** Pairs the engine scores for `pairs`: their windows with a window mode, else one each. */
  async countWindows(pairs: readonly Pair[], long: LongDocumentFields, field: 'documents' | 'pairs'): Promise<number> {
    const plan = await this.planWindows(pairs, long, field);
    return plan ? plan.count : pairs.length;
  }

  /**
   * Keeps only each item's first `chunks` windows of the plan (Cohere's max_chunks_per_doc);
   * returns the windows left.
   */
  limitWindows(chunks: number): number {
    const plan = this.plan;
    if (!plan) return 0;
    const windows = plan.windows.map((w) => w.slice(0, chunks));
    this.plan = { ...plan, windows, count: windows.reduce((n, w) => n + w.length, 0) };
    return this.plan.count;
  }

  /** Takes a permit per pair scored: 413 over maxWindowsPerRequest, 429 over what is free. */
  private take(count: number): () => void {
    if (count > this.maxWindowsPerRequest) throw new TooManyWindowsError(count, this.maxWindowsPerRequest);
    return this.permits.take(count);
  }

  /** Takes `count` permits held until the request is answered (releaseHeld(), by the server). */
  hold(count: number): void {
    this.held.push(this.take(count));
    this.pairs += count;
  }

  releaseHeld(): void {
    for (const release of this.held) release();
    this.held = [];
  }

  /**
   * Runs `call` with callOptions(items) once it has a permit for each pair it scores (`windows`:
   * a long document's windows counted one each; else 413 or 429, at once), keeping te_queue_size
   * right (in the items the library reports progress in) and giving the permits back whatever
   * happens.
   */
  async run<T>(windows: number, call: (options: { signal: AbortSignal; onProgress: (done: number) => void }) => Promise<T>, items = windows): Promise<T> {
    const release = this.take(windows);
    this.pairs += windows;
    const { options, settle } = this.callOptions(items);
    try {
      return await call(options);
    } finally {
      settle();
      release();
    }
  }
}
