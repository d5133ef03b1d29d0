/**
 * Errors an HTTP client receives, in text-embeddings-inference's shape: a status and
 * `{ "error": message, "error_type": kind }`.
 */
import { TceError } from '../errors';

export type ErrorType = 'Validation' | 'Overloaded' | 'Unauthorized' | 'Backend' | 'Unhealthy' | 'NotFound';

export class HttpError extends Error {
  constructor(readonly status: number, readonly type: ErrorType, message: string) {
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
  }
  return new HttpError(500, 'Backend', (error as Error)?.message ?? String(error));
}
