/**
 * What a scoring handler needs from the server for one request: the model, the limits, the
 * connection's AbortSignal (the client going away, or the shutdown grace running out, stops its
 * work), and call options that feed the queue metrics.
 */
import type { CrossEncoder } from '../cross-encoder';
import { HttpError } from './http-error';
import type { Labels } from './info';
import type { RequestMethod, ServerMetrics } from './metrics';

/** TEI's batch size error (422), counted apart as te_request_failure{err="batch_size"}. */
export class BatchSizeError extends HttpError {
  constructor(count: number, limit: number) {
    super(422, 'Validation', `batch size ${count} > maximum allowed batch size ${limit}`);
  }
}

export class ScoringRequest {
  /** TEI's method label: "single" for a /predict of one input, "batch" otherwise. */
  method: RequestMethod = 'batch';
  /** Pairs this request asked for (logs). */
  pairs = 0;
  /** Whether TEI counts it in te_request_* (its scoring routes do; /tokenize does not). */
  counted = true;

  constructor(
    readonly model: CrossEncoder,
    readonly labels: Labels,
    readonly modelId: string,
    readonly maxClientBatchSize: number,
    readonly signal: AbortSignal,
    private readonly metrics: ServerMetrics,
  ) {}

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

  /** Runs `call` with callOptions(pairs), keeping te_queue_size right whatever happens. */
  async run<T>(pairs: number, call: (options: { signal: AbortSignal; onProgress: (done: number) => void }) => Promise<T>): Promise<T> {
    const { options, settle } = this.callOptions(pairs);
    try {
      return await call(options);
    } finally {
      settle();
    }
  }
}
