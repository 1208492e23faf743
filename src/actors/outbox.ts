// A thread's outgoing actor messages, sent to the supervisor as one batch per event loop
// turn: each postMessage costs a structured clone and a wake-up of the supervisor's loop, and
// an operation's actor sends about fifteen (progress, metrics, its lock request). A progress
// report replaces an earlier one of the same run still waiting in the batch, since the
// supervisor keeps only the latest.

import type { ActorEnvelope, ActorMessage, ThreadMessage } from './messages.js';

export class Outbox {
  private messages: ActorEnvelope[] = [];
  /** Index in `messages` of each run's waiting progress report. */
  private progressAt = new Map<number, number>();
  private scheduled = false;

  constructor(private readonly send: (message: ThreadMessage) => void) {}

  post(runId: number, message: ActorMessage): void {
    const waiting = message.type === 'progress' ? this.progressAt.get(runId) : undefined;
    if (waiting !== undefined) {
      this.messages[waiting] = { runId, message };
    } else {
      if (message.type === 'progress') this.progressAt.set(runId, this.messages.length);
      this.messages.push({ runId, message });
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.messages.length === 0) return;
    const messages = this.messages;
    this.messages = [];
    this.progressAt = new Map();
    this.send({ type: 'actors', messages });
  }
}
