// The real worker (`node dist/src/cli.js start`) as the chaos run drives it: started with
// environment settings, its logs appended to one file per run, SIGKILLed on demand and
// started again at once, and restarted (and counted) if it ever exits without being asked.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const RESTART_AFTER_EXIT_MS = 1_000;

export class ChaosWorker {
  /** Processes started so far. */
  starts = 0;
  /** One line per exit nobody asked for: when, how, and the last lines it logged. */
  readonly unexpectedExits: string[] = [];
  private child: ChildProcess | null = null;
  private expectingExit = false;
  private stopped = false;
  private readonly log: WriteStream;
  private tail = '';

  constructor(
    private readonly env: Record<string, string>,
    logFile: string,
    private readonly since: number,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  start(): void {
    if (this.stopped) return;
    this.starts += 1;
    this.expectingExit = false;
    const child = spawn(process.execPath, [CLI, 'start'], {
      env: { ...process.env, ...this.env, WORKER_ID: `chaos-${this.starts}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const record = (chunk: Buffer) => {
      this.log.write(chunk);
      this.tail = (this.tail + chunk.toString()).slice(-2_000);
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.expectingExit || this.stopped) return;
      const at = ((Date.now() - this.since) / 1000).toFixed(1);
      const lastLines = this.tail.trim().split('\n').slice(-3).join(' | ');
      this.unexpectedExits.push(
        `worker ${this.starts} exited by itself at ${at} s (code ${code}, signal ${signal}): ` +
          lastLines.slice(0, 600),
      );
      setTimeout(() => this.start(), RESTART_AFTER_EXIT_MS);
    });
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** SIGKILL and wait for the process to be gone. False if none was running. */
  async kill(): Promise<boolean> {
    const child = this.child;
    if (!child) return false;
    this.expectingExit = true;
    await exited(child, () => child.kill('SIGKILL'));
    return true;
  }

  /**
   * The final, graceful stop: SIGTERM, and the exit code if it exits within `ms`; otherwise
   * SIGKILL and a description of the hang.
   */
  async stop(ms: number): Promise<number | string> {
    this.stopped = true;
    const child = this.child;
    if (!child) return 'no worker was running';
    this.expectingExit = true;
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      exited(child, () => child.kill('SIGTERM')).then(
        () => child.exitCode ?? String(child.signalCode),
      ),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`still running ${ms / 1000} s after SIGTERM`), ms);
      }),
    ]);
    clearTimeout(timer);
    if (typeof result === 'string' && child.exitCode === null) {
      await exited(child, () => child.kill('SIGKILL'));
    }
    return result;
  }

  /** Kills whatever runs, without ceremony (cleanup after an error). */
  async destroy(): Promise<void> {
    this.stopped = true;
    await this.kill();
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}

function exited(child: ChildProcess, send: () => void): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    send();
  });
}
