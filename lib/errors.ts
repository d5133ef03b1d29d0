/**
 * Errors with a stable `code`, so callers can branch without parsing messages. Every error the
 * package throws or rejects with is a TceError, except an aborted call's AbortError (as `fetch`
 * and `timers/promises` reject) and an error thrown by the caller's own onProgress, which the call
 * rejects with unchanged. README's *Errors* table lists the codes.
 */

/** Every code, in README's *Errors* table order (one list: the type below is derived from it). */
export const TCE_ERROR_CODES = [
  'TCE_ADDON_NOT_FOUND', 'TCE_LIBTORCH_NOT_FOUND', 'TCE_CORE_NOT_FOUND', 'TCE_CORE_VERSION_MISMATCH',
  'TCE_CORE_LOAD_FAILED', 'TCE_MODEL_DIR', 'TCE_MODEL_FILE', 'TCE_MODEL_LOAD_FAILED', 'TCE_CUDA_UNAVAILABLE', 'TCE_INVALID_OPTION',
  'TCE_INVALID_INPUT', 'TCE_TOKENIZER_FILE', 'TCE_DISPOSED', 'TCE_FORWARD_FAILED', 'TCE_INTERNAL',
] as const;
export type TceErrorCode = (typeof TCE_ERROR_CODES)[number];
const CODES: ReadonlySet<string> = new Set(TCE_ERROR_CODES);

export class TceError extends Error {
  readonly code: TceErrorCode;
  constructor(code: TceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TceError';
    this.code = code;
  }
}

/**
 * An error thrown or rejected by the addon, as a TceError: its own code when it carries one of
 * ours, else `fallback`. The addon's arguments are checked in TS first, so a native TypeError
 * reaching here is a bug of this package (TCE_INTERNAL by default).
 */
export function fromNative(error: unknown, fallback: TceErrorCode = 'TCE_INTERNAL'): Error {
  if (error instanceof TceError) return error;
  const e = error as (Error & { code?: unknown }) | null;
  if (e !== null && typeof e === 'object' && e.name === 'AbortError') return e;
  const message = e instanceof Error ? e.message : String(error);
  const code = typeof e?.code === 'string' && CODES.has(e.code) ? (e.code as TceErrorCode) : fallback;
  return new TceError(code, message, { cause: error });
}

/**
 * The error an aborted call rejects with, as README's *Errors* says: `name` 'AbortError' and
 * `code` 'ABORT_ERR' whatever the signal's reason is. `controller.abort()` with no reason leaves a
 * DOMException whose `code` is the number 20, and `AbortSignal.timeout()` one named
 * 'TimeoutError': neither is passed through as it is, so that callers can branch on one code. The
 * reason is kept as `cause` (a timeout is told apart by `cause.name === 'TimeoutError'`).
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  const error = new Error(timedOut ? 'The operation was aborted due to timeout' : 'The operation was aborted', { cause: reason });
  error.name = 'AbortError';
  (error as Error & { code: string }).code = 'ABORT_ERR';
  return error;
}
