// Kubernetes resource quantities ("10Gi", "500M", "1e9") as numbers, so storage sizes
// written in different units can be compared before a request is sent.

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

const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|([KMGTPE]i|[mkMGTPE])?)$/;

/** The quantity's value (bytes for storage), or null when it is not a valid quantity. */
export function parseQuantity(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const match = QUANTITY.exec(value.trim());
  if (!match) return null;
  const [, number, exponent, suffix] = match;
  const base = Number(number);
  if (exponent) return base * 10 ** Number(exponent.slice(1));
  return base * (SUFFIXES[suffix ?? ''] ?? 1);
}

export function gibibytes(gb: number): string {
  return `${gb}Gi`;
}

/** Whole GiB a storage quantity holds, rounded down; null when unparsable. */
export function toGibibytes(value: unknown): number | null {
  const bytes = parseQuantity(value);
  return bytes === null ? null : Math.floor(bytes / 2 ** 30);
}
