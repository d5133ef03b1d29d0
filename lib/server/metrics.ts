/**
 * Prometheus metrics of the rerank server (prom-client), named, labelled and bucketed as
 * text-embeddings-inference 1.x names its own, so that dashboards and autoscalers made for TEI
 * work unchanged:
 *
 *   te_request_count{method}       scoring requests received ("single": /predict of one input,
 *                                  "batch": every other), te_request_success{method} those answered
 *                                  200, te_request_failure{err} the others by cause
 *                                  (validation, batch_size, overloaded, inference, dropped, and
 *                                  ours: timeout, past requestTimeoutMs while queued or scored)
 *   te_request_duration            seconds from a scoring request's body being read to its answer
 *   te_request_queue_duration      ... to the first forward with its pairs being scored
 *   te_request_inference_duration  ... from then to its last pair scored
 *   te_queue_size                  pairs handed to the engine and not yet scored
 *   te_batch_next_size / _tokens   pairs / padded tokens per forward (the mean since the last scrape:
 *                                  the engine counts forwards, it does not report each)
 *
 * and ours: tce_http_requests{route,status} for every route (the status the client was sent),
 * tce_requests_in_flight, tce_connections_refused (connections beyond maxConnections), and the
 * engine's counters (tce_forwards_total, ...).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CrossEncoder } from '../cross-encoder';

/** TEI's buckets for every *_duration: 35 steps of x1.5 from 15 microseconds (to about 21 min), computed as TEI does. */
const DURATION_BUCKETS: number[] = [];
for (let value = 0.00001; DURATION_BUCKETS.length < 35;) DURATION_BUCKETS.push((value *= 1.5));
/** TEI's te_batch_next_size buckets: 1 ... 4096. */
const BATCH_SIZE_BUCKETS = Array.from({ length: 13 }, (_, i) => 2 ** i);
/** TEI's te_batch_next_tokens buckets: 1 ... 2^20. */
const BATCH_TOKENS_BUCKETS = Array.from({ length: 21 }, (_, i) => 2 ** i);

export type RequestMethod = 'single' | 'batch';
export type FailureCause = 'validation' | 'batch_size' | 'model_type' | 'overloaded' | 'inference' | 'dropped' | 'timeout';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requestCount: Counter<'method'>;
  readonly requestSuccess: Counter<'method'>;
  readonly requestFailure: Counter<'err'>;
  readonly duration: Histogram;
  readonly queueDuration: Histogram;
  readonly inferenceDuration: Histogram;
  readonly queueSize: Gauge;
  readonly http: Counter<'route' | 'status'>;
  readonly inFlight: Gauge;
  readonly refusedConnections: Counter;
  private readonly batchSize: Histogram;
  private readonly batchTokens: Histogram;
  private last = { forwards: 0, pairs: 0, paddedTokens: 0 };

  constructor(private readonly model: CrossEncoder) {
    const registers = [this.registry];
    this.requestCount = new Counter({ name: 'te_request_count', help: 'Scoring requests received', labelNames: ['method'], registers });
    this.requestSuccess = new Counter({ name: 'te_request_success', help: 'Scoring requests answered 200', labelNames: ['method'], registers });
    this.requestFailure = new Counter({ name: 'te_request_failure', help: 'Scoring requests that failed, by cause', labelNames: ['err'], registers });
    this.duration = new Histogram({ name: 'te_request_duration', help: 'Seconds from a request (its body read) to its answer', buckets: DURATION_BUCKETS, registers });
    this.queueDuration = new Histogram({
      name: 'te_request_queue_duration', help: "Seconds from a request to the first forward with its pairs scored (queueing and that forward)",
      buckets: DURATION_BUCKETS, registers,
    });
    this.inferenceDuration = new Histogram({
      name: 'te_request_inference_duration', help: "Seconds from a request's first forward scored to its last",
      buckets: DURATION_BUCKETS, registers,
    });
    this.queueSize = new Gauge({ name: 'te_queue_size', help: 'Pairs handed to the engine and not yet scored', registers });
    this.batchSize = new Histogram({ name: 'te_batch_next_size', help: 'Pairs per forward (mean since the last scrape)', buckets: BATCH_SIZE_BUCKETS, registers });
    this.batchTokens = new Histogram({ name: 'te_batch_next_tokens', help: 'Padded tokens per forward (mean since the last scrape)', buckets: BATCH_TOKENS_BUCKETS, registers });
    this.http = new Counter({ name: 'tce_http_requests', help: 'HTTP requests answered, by route and status', labelNames: ['route', 'status'], registers });
    this.refusedConnections = new Counter({ name: 'tce_connections_refused', help: 'Connections beyond maxConnections (their first request answered 503)', registers });
    this.inFlight = new Gauge({ name: 'tce_requests_in_flight', help: 'Scoring requests being served now (bodies read)', registers });
    const engine = (name: string, help: string, read: (s: ReturnType<CrossEncoder['stats']>) => number) =>
      new Gauge({
        name, help, registers,
        collect() {
          try {
            this.set(read(model.stats()));
          } catch {
            // disposed while shutting down: keep the last value
          }
        },
      });
    engine('tce_forwards_total', 'Forwards the engine ran', (s) => s.forwards);
    engine('tce_pairs_total', 'Pairs the engine scored', (s) => s.pairs);
    engine('tce_tokens_total', 'Real (unpadded) tokens the engine ran', (s) => s.tokens);
    engine('tce_padded_tokens_total', 'Tokens the engine ran, padding included', (s) => s.paddedTokens);
    engine('tce_shared_forwards_total', 'Forwards that carried pairs of more than one call', (s) => s.sharedForwards);
  }

  /** Called before each scrape: the engine's forwards since the last one, as batch shapes. */
  observeBatches(): void {
    let stats;
    try {
      stats = this.model.stats();
    } catch {
      return; // disposed while shutting down
    }
    const forwards = stats.forwards - this.last.forwards;
    if (forwards > 0) {
      this.batchSize.observe((stats.pairs - this.last.pairs) / forwards);
      this.batchTokens.observe((stats.paddedTokens - this.last.paddedTokens) / forwards);
    }
    this.last = { forwards: stats.forwards, pairs: stats.pairs, paddedTokens: stats.paddedTokens };
  }
}
