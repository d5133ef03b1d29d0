/**
 * What a scoring handler needs from the server for one request: the model, the limits, the
 * connection's AbortSignal (the client going away, or the shutdown grace running out, stops its
 * work), and call options that feed the queue metrics.
 */
import type { CrossEncoder } from '../cross-encoder';
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
  return { cause: status < 500 && status !== 424 ? 'validation' : 'inference', always: false };
}

export class ScoringRequest {
  /** TEI's method label: "single" for a /predict of one input, "batch" otherwise. */
  method: RequestMethod = 'batch';
  /** Pairs this request asked for (logs). */
  pairs = 0;
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
    this.pairs += pairs;
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
    return { options: { signal: this.signal, onProgress }, settle };
  }

  /**
   * Runs `call` with callOptions(pairs) once it has a permit for each pair (else 429, at once),
   * keeping te_queue_size right and giving the permits back whatever happens.
   */
  async run<T>(pairs: number, call: (options: { signal: AbortSignal; onProgress: (done: number) => void }) => Promise<T>): Promise<T> {
    const release = this.permits.take(pairs);
    const { options, settle } = this.callOptions(pairs);
    try {
      return await call(options);
    } finally {
      settle();
      release();
    }
  }
}
