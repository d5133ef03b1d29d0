/**
 * --max-concurrent-requests as text-embeddings-inference counts it: one permit per pair (TEI
 * takes one per input), over every request being scored. A request whose pairs would take the
 * pairs in flight over the limit is answered 429 at once, without waiting (as TEI's
 * try_acquire); so is one of more pairs than the limit, which could never fit (TEI too answers it
 * 429, once the permits it did get are used).
 */
import { HttpError } from './http-error';

/** TEI's 429: `{"error": "Model is overloaded", "error_type": "Overloaded"}`. */
export class OverloadedError extends HttpError {
  constructor(count: number, limit: number) {
    super(429, 'Overloaded', count > limit
      ? `Model is overloaded: ${count} pairs in one request are more than max_concurrent_requests (${limit}) allows at once`
      : 'Model is overloaded');
  }
}

export class PairPermits {
  private taken = 0;

  constructor(readonly limit: number) {}

  /** Pairs being scored now, over all requests. */
  get inFlight(): number {
    return this.taken;
  }

  /** Takes `count` permits, or throws OverloadedError; returns their release (once is enough). */
  take(count: number): () => void {
    if (this.taken + count > this.limit) throw new OverloadedError(count, this.limit);
    this.taken += count;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.taken -= count;
    };
  }
}
