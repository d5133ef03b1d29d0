/**
 * Runs one submitted predict call to its end: the caller's AbortSignal, the caller's onProgress,
 * and the native promise, settled exactly once.
 *
 * The onProgress contract (README): if the callback throws, or returns a promise that rejects, the
 * call stops taking part in batches and rejects with that error, unchanged; the model stays
 * usable. A call that completes waits for the promises its onProgress returned, so a rejection
 * of the last one still rejects the call rather than going unhandled.
 */
import { abortError, fromNative } from './errors';
import type { NativeModel, NativePredictOptions, NativeTextBuffer } from './native';

export type ProgressCallback = (done: number, total: number) => unknown;

export function runNativeCall(
  model: NativeModel,
  texts: NativeTextBuffer,
  options: Omit<NativePredictOptions, 'onProgress'>,
  onProgress: ProgressCallback | undefined,
  signal: AbortSignal | undefined,
): Promise<Float32Array> {
  return new Promise<Float32Array>((resolve, reject) => {
    let settled = false;
    let callbackFailed = false;
    const outstanding = new Set<Promise<void>>();
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      finish();
    };
    const failFromCallback = (error: unknown) => {
      if (callbackFailed) return;
      callbackFailed = true;
      call.cancel();
      settle(() => reject(error));
    };
    const progress = onProgress && ((done: number, total: number) => {
      if (settled) return;
      try {
        const result = onProgress(done, total);
        if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
          const watched = Promise.resolve(result).then(() => undefined, failFromCallback);
          outstanding.add(watched);
          void watched.then(() => outstanding.delete(watched));
        }
      } catch (error) {
        failFromCallback(error);
      }
    });
    const onAbort = () => {
      call.cancel();
      settle(() => reject(abortError(signal!)));
    };

    let call: ReturnType<NativeModel['predict']>;
    try {
      call = model.predict(texts, progress ? { ...options, onProgress: progress } : options);
    } catch (error) {
      settled = true;
      reject(fromNative(error));
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort(); // aborted while the texts were handed over
    call.promise.then(
      (scores) => {
        if (outstanding.size === 0) return settle(() => resolve(scores));
        void Promise.all(outstanding).then(() => settle(() => resolve(scores)));
      },
      (error: unknown) => {
        const aborted = (error as { code?: unknown })?.code === 'ABORT_ERR' && signal?.aborted;
        settle(() => reject(aborted ? abortError(signal!) : fromNative(error, 'TCE_FORWARD_FAILED')));
      },
    );
  });
}
