/** Errors with a stable `code`, so callers can branch without parsing messages. */

export type TceErrorCode =
  | 'TCE_ADDON_NOT_FOUND'
  | 'TCE_LIBTORCH_NOT_FOUND'
  | 'TCE_CORE_NOT_FOUND'
  | 'TCE_CORE_VERSION_MISMATCH'
  | 'TCE_CORE_LOAD_FAILED'
  | 'TCE_MODEL_DIR'
  | 'TCE_MODEL_LOAD_FAILED'
  | 'TCE_CUDA_UNAVAILABLE'
  | 'TCE_INVALID_OPTION'
  | 'TCE_TOKENIZER_FILE'
  | 'TCE_DISPOSED'
  | 'TCE_FORWARD_FAILED';

export class TceError extends Error {
  readonly code: TceErrorCode;
  constructor(code: TceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TceError';
    this.code = code;
  }
}

/** The error an aborted call rejects with, as `fetch` and `timers/promises` do. */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const error = new Error('The operation was aborted', { cause: reason });
  error.name = 'AbortError';
  (error as Error & { code: string }).code = 'ABORT_ERR';
  return error;
}
