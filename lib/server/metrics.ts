/**
 * Prometheus metrics of the rerank server (prom-client), named as text-embeddings-inference names
 * its own where one exists (te_request_count, te_request_duration, te_queue_duration,
 * te_batch_next_size, te_batch_next_tokens), plus the engine's counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CrossEncoder } from '../cross-encoder';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'status'>;
  readonly duration: Histogram<'method'>;
  readonly queue: Histogram<'method'>;
  readonly pairs: Histogram<'method'>;
  readonly inFlight: Gauge;
  private readonly batchSize: Histogram;
  private readonly batchTokens: Histogram;
  private last = { forwards: 0, pairs: 0, paddedTokens: 0 };

  constructor(model: CrossEncoder) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'te_request_count', help: 'Requests answered, by route and HTTP status', labelNames: ['method', 'status'], registers });
    this.duration = new Histogram({ name: 'te_request_duration', help: 'Seconds from a request to its response', labelNames: ['method'], buckets: DURATION_BUCKETS, registers });
    this.queue = new Histogram({
      name: 'te_queue_duration', help: "Seconds from a request's arrival to its first scored batch (queueing and the first forward)",
      labelNames: ['method'], buckets: DURATION_BUCKETS, registers,
    });
    this.pairs = new Histogram({ name: 'te_request_pairs', help: 'Pairs in a request', labelNames: ['method'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers });
    this.inFlight = new Gauge({ name: 'te_requests_in_flight', help: 'Scoring requests being served now', registers });
    this.batchSize = new Histogram({ name: 'te_batch_next_size', help: 'Mean pairs per forward since the last scrape', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registers });
    this.batchTokens = new Histogram({
      name: 'te_batch_next_tokens', help: 'Mean padded tokens per forward since the last scrape',
      buckets: [64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536], registers,
    });
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
    this.model = model;
  }

  private readonly model: CrossEncoder;

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
