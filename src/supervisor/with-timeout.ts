// A probe or a scrape must answer even when Redis or MongoDB hangs: a readiness check that
// never returns is as bad as a failed one, and a /metrics call that hangs loses every series.

export class TimeoutElapsedError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'TimeoutElapsedError';
  }
}

/** Settles like `promise`, or rejects with TimeoutElapsedError after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    // Not unref'd: the caller is waiting on this answer, so the process must wait for it too.
    timer = setTimeout(() => reject(new TimeoutElapsedError(what, ms)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
