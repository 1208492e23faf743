// Counts finished jobs and times the steady part of a run: the clock starts when the
// warm-up jobs are done (threads spawned, scripts loaded, JIT warm) and stops at the last.

export class ThroughputMeter {
  private done = 0;
  private startedAt = 0;
  private finishedAt = 0;
  private resolveDone: (() => void) | null = null;
  private resolveWarm: (() => void) | null = null;
  readonly finished: Promise<void>;
  /** Resolves when the measured phase begins. */
  readonly warmed: Promise<void>;

  constructor(
    private readonly warmup: number,
    private readonly total: number,
  ) {
    this.finished = new Promise((resolve) => (this.resolveDone = resolve));
    this.warmed = new Promise((resolve) => (this.resolveWarm = resolve));
    if (warmup === 0) {
      this.startedAt = performance.now();
      this.resolveWarm?.();
    }
  }

  tick(): void {
    this.done += 1;
    if (this.done === this.warmup) {
      this.startedAt = performance.now();
      this.resolveWarm?.();
    }
    if (this.done === this.total) {
      this.finishedAt = performance.now();
      this.resolveDone?.();
    }
  }

  get count(): number {
    return this.done;
  }

  /** True once the warm-up jobs are done (the measured phase has begun). */
  get warm(): boolean {
    return this.done >= this.warmup;
  }

  /** Jobs per second over the measured phase. */
  opsPerSecond(): number {
    return ((this.total - this.warmup) * 1000) / (this.finishedAt - this.startedAt);
  }

  elapsedMs(): number {
    return this.finishedAt - this.startedAt;
  }
}
