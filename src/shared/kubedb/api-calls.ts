// Kubernetes API requests made in this thread, by verb and HTTP status code (0 when no
// answer came back), kept until drained. Actor threads cannot reach the supervisor's metrics
// registry, so each thread drains these now and then and sends them to the supervisor.

const counts = new Map<string, number>();

export function recordApiCall(verb: string, code: number): void {
  const key = `${verb} ${code}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** The calls recorded since the last drain, and forgets them. */
export function drainApiCalls(): Array<{ verb: string; code: number; count: number }> {
  const drained = [...counts].map(([key, count]) => {
    const [verb = 'unknown', code = '0'] = key.split(' ');
    return { verb, code: Number(code), count };
  });
  counts.clear();
  return drained;
}
