// How long a failed attempt waits before it is tried again.

/**
 * Exponential backoff with "equal jitter": the ceiling doubles per retry (`baseMs`,
 * 2 x `baseMs`, 4 x ...) up to `maxMs`, and the delay is drawn from the upper half of it.
 * The lower half keeps the delay growing; the random half spreads out workers that failed
 * together (say, while the Kubernetes API was down) so they do not all come back at once.
 */
export function retryDelayMs(
  retryNumber: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.floor(retryNumber) - 1);
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(exponent, 52));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
