import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ThreadMessage } from '../src/actors/messages.js';
import { Outbox } from '../src/actors/outbox.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

function progress(step: string, value: number) {
  return {
    type: 'progress' as const,
    step,
    progress: value,
    message: step,
    databaseId: 'db-1',
    operationType: 'restart',
  };
}

describe('a thread outbox', () => {
  it('sends what its actors post in one turn as one batch, in order', async () => {
    const sent: ThreadMessage[] = [];
    const outbox = new Outbox((message) => sent.push(message));
    outbox.post(1, { type: 'started', threadId: 7 });
    outbox.post(2, { type: 'lock_database', requestId: 1, databaseId: 'db-2' });
    outbox.post(1, { type: 'metric', event: { kind: 'operation_retry', type: 'restart' } });
    assert.equal(sent.length, 0);
    await turn();
    assert.deepEqual(sent, [
      {
        type: 'actors',
        messages: [
          { runId: 1, message: { type: 'started', threadId: 7 } },
          { runId: 2, message: { type: 'lock_database', requestId: 1, databaseId: 'db-2' } },
          {
            runId: 1,
            message: { type: 'metric', event: { kind: 'operation_retry', type: 'restart' } },
          },
        ],
      },
    ]);
  });

  it("keeps only a run's latest progress report of a batch, where the first one was", async () => {
    const sent: ThreadMessage[] = [];
    const outbox = new Outbox((message) => sent.push(message));
    outbox.post(1, progress('started', 5));
    outbox.post(2, progress('started', 5));
    outbox.post(1, progress('validated', 10));
    await turn();
    outbox.post(1, progress('change_requested', 20));
    await turn();
    assert.deepEqual(
      sent.map((batch) =>
        batch.type === 'actors'
          ? batch.messages.map(({ runId, message }) =>
              message.type === 'progress' ? `${runId}:${message.step}` : message.type,
            )
          : [],
      ),
      [['1:validated', '2:started'], ['1:change_requested']],
    );
  });

  it('sends nothing for a turn in which nothing was posted', async () => {
    const sent: ThreadMessage[] = [];
    const outbox = new Outbox((message) => sent.push(message));
    outbox.flush();
    await turn();
    assert.equal(sent.length, 0);
  });
});
