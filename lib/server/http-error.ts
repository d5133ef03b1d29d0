/**
 * Errors an HTTP client receives, in text-embeddings-inference's shape: a status and
 * `{ "error": message, "error_type": kind }`, with TEI's status for each of TEI's kinds
 * (Validation 422, Empty 400, Overloaded 429, Backend 424, Unhealthy 503).
 */
import { TceError } from '../errors';

export type ErrorType =
  | 'Validation' | 'Empty' | 'Overloaded' | 'Backend' | 'Unhealthy'
  // Not TEI's kinds (TEI answers these with an empty body): ours say what happened.
  | 'Unauthorized' | 'NotFound' | 'MethodNotAllowed' | 'PayloadTooLarge' | 'UnsupportedMediaType';

export class HttpError extends Error {
  constructor(readonly status: number, readonly type: ErrorType, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

/** What a thrown error means to the client: a bad request is the client's, anything else ours. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof TceError) {
    if (error.code === 'TCE_INVALID_INPUT' || error.code === 'TCE_INVALID_OPTION') return new HttpError(422, 'Validation', error.message);
    if (error.code === 'TCE_DISPOSED') return new HttpError(503, 'Unhealthy', 'the server is shutting down');
    if (error.code === 'TCE_FORWARD_FAILED') return new HttpError(424, 'Backend', error.message);
  }
  if ((error as Error | null)?.name === 'AbortError') return new HttpError(503, 'Unhealthy', 'the request was stopped: the server is shutting down or the client went away');
  return new HttpError(500, 'Backend', (error as Error)?.message ?? String(error));
}
