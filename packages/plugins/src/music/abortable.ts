/**
 * Waits for `work` unless `signal` aborts first; on abort, `onAbort` runs (close the socket) and
 * the promise rejects with the signal's reason. A late result of `work` is then ignored.
 */
export function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal,
  onAbort: () => void = () => {},
): Promise<T> {
  if (signal.aborted) {
    onAbort();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const stop = () => {
      onAbort();
      reject(signal.reason);
    };
    signal.addEventListener('abort', stop, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', stop);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', stop);
        reject(error);
      },
    );
  });
}
