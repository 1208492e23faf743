// Lets the claim loop sleep until either its poll interval passes or something frees
// capacity (an actor finished, the worker was resumed), whichever comes first.

export class Doorbell {
  private ring: (() => void) | null = null;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.ring === done) this.ring = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.ring = done;
    });
  }

  notify(): void {
    this.ring?.();
  }
}
