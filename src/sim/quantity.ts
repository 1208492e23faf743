// Kubernetes resource quantities (`10Gi`, `500m`, `1.5e9`) as numbers, to compare sizes.
//
// The simulator keeps its own reading rather than importing the worker's (src/shared/kubedb):
// it stands in for KubeDB, and a shared mistake would let both sides agree on a wrong field.

const SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The quantity's value in base units, or NaN when it is not a quantity. */
export function parseQuantity(quantity: unknown): number {
  if (typeof quantity === 'number') return quantity;
  if (typeof quantity !== 'string') return Number.NaN;
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([KMGTPE]i|[mkMGTPE])?$/.exec(
    quantity.trim(),
  );
  if (!match) return Number.NaN;
  return Number(match[1]) * SUFFIXES[match[2] ?? '']!;
}
