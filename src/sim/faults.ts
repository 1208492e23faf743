// Failure knobs, settable at start and while running. Request faults are decided per API
// request; OpsRequest faults are read by the operator when it finishes a request.

export type FaultKind = 500 | 503 | 429 | 403 | 'reset';

export const API_VERBS = ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'] as const;
export type Verb = (typeof API_VERBS)[number];

export interface Faults {
  /** Fraction (0..1) of API requests answered with one of `errorKinds` instead. */
  errorRate: number;
  /** The next N API requests fail for sure (then the count runs down to 0). */
  failNext: number;
  /** What a failed request gets, chosen in turn; `reset` destroys the connection. */
  errorKinds: FaultKind[];
  /** Only these verbs are failed (all when empty). */
  errorVerbs: Verb[];
  /** The Retry-After header on 429 answers, in seconds. */
  retryAfterSeconds: number;
  /** Added before every API answer (watch streams: before the headers). */
  latencyMs: number;
  /** Cut every open watch stream this often (0 = never). */
  watchCutEveryMs: number;
  /** Fraction (0..1) of OpsRequests that end Failed. */
  opsFailRate: number;
  /** OpsRequests whose name matches this regular expression end Failed. */
  opsFailPattern: string;
  /** OpsRequests whose name matches this regular expression stay Progressing. */
  opsStuckPattern: string;
  /** Every OpsRequest stays Progressing (until this is turned off again). */
  opsStayProgressing: boolean;
}

export const NO_FAULTS: Faults = {
  errorRate: 0,
  failNext: 0,
  errorKinds: [500],
  errorVerbs: [],
  retryAfterSeconds: 1,
  latencyMs: 0,
  watchCutEveryMs: 0,
  opsFailRate: 0,
  opsFailPattern: '',
  opsStuckPattern: '',
  opsStayProgressing: false,
};

export class FaultPlan {
  private current: Faults = { ...NO_FAULTS };
  private turn = 0;

  constructor(
    initial: Partial<Faults> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.set(initial);
  }

  get(): Faults {
    return { ...this.current, errorKinds: [...this.current.errorKinds] };
  }

  /** Merges the given knobs into the current ones; anything not given is left as it is. */
  set(faults: Partial<Faults>): void {
    const next = { ...this.current, ...stripUndefined(faults) };
    validate(next);
    this.current = next;
    // A new list of kinds starts from its first entry, so tests can predict the sequence.
    if (faults.errorKinds !== undefined) this.turn = 0;
  }

  reset(): void {
    this.current = { ...NO_FAULTS };
    this.turn = 0;
  }

  /** The fault this request gets, if any. Decided once per request, before it is served. */
  forRequest(verb: Verb): FaultKind | undefined {
    const f = this.current;
    if (f.errorVerbs.length > 0 && !f.errorVerbs.includes(verb)) return undefined;
    let fail = false;
    if (f.failNext > 0) {
      f.failNext -= 1;
      fail = true;
    } else if (f.errorRate > 0 && this.random() < f.errorRate) {
      fail = true;
    }
    if (!fail || f.errorKinds.length === 0) return undefined;
    const kind = f.errorKinds[this.turn % f.errorKinds.length];
    this.turn += 1;
    return kind;
  }

  /** Why an OpsRequest of this name must fail, or undefined. */
  opsFailure(name: string): string | undefined {
    const f = this.current;
    if (f.opsFailPattern !== '' && new RegExp(f.opsFailPattern).test(name)) {
      return `the simulator was told to fail OpsRequests matching /${f.opsFailPattern}/`;
    }
    if (f.opsFailRate > 0 && this.random() < f.opsFailRate) {
      return 'the simulator failed this OpsRequest at random (opsFailRate)';
    }
    return undefined;
  }

  opsStuck(name: string): boolean {
    const f = this.current;
    if (f.opsStayProgressing) return true;
    return f.opsStuckPattern !== '' && new RegExp(f.opsStuckPattern).test(name);
  }
}

function stripUndefined(faults: Partial<Faults>): Partial<Faults> {
  return Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== undefined));
}

function validate(f: Faults): void {
  const rate = (n: number, name: string) => {
    if (!(n >= 0 && n <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${n}`);
  };
  rate(f.errorRate, 'errorRate');
  rate(f.opsFailRate, 'opsFailRate');
  for (const kind of f.errorKinds) {
    if (![500, 503, 429, 403, 'reset'].includes(kind)) {
      throw new RangeError(`errorKinds: ${String(kind)} is not one of 500, 503, 429, 403, reset`);
    }
  }
  for (const verb of f.errorVerbs) {
    if (!API_VERBS.includes(verb)) throw new RangeError(`errorVerbs: unknown verb ${verb}`);
  }
  for (const [name, pattern] of [
    ['opsFailPattern', f.opsFailPattern],
    ['opsStuckPattern', f.opsStuckPattern],
  ] as const) {
    try {
      new RegExp(pattern);
    } catch {
      throw new RangeError(`${name} is not a valid regular expression: ${pattern}`);
    }
  }
  for (const name of ['failNext', 'retryAfterSeconds', 'latencyMs', 'watchCutEveryMs'] as const) {
    if (!(Number.isFinite(f[name]) && f[name] >= 0)) {
      throw new RangeError(`${name} must be a number >= 0, got ${f[name]}`);
    }
  }
}
