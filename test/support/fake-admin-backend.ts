// An in-memory AdminBackend for testing the admin API without a supervisor. It records every
// call, and its data deliberately carries secrets and undeclared fields, so tests can prove
// the API's output schemas keep them out of every answer.

import type {
  ActorView,
  AdminBackend,
  CancelResult,
  DeadLetterView,
  EnqueueResult,
  QueueView,
  ReadyView,
  RetryDeadResult,
} from '../../src/supervisor/admin-backend.js';

export const KNOWN_OPERATION = 'op-0123456789ab';
export const FINAL_OPERATION = 'op-aaaaaaaaaaaa';
export const QUEUED_OPERATION = 'op-bbbbbbbbbbbb';
export const DEAD_OPERATION = 'op-dddddddddddd';
export const MISSING_OPERATION = 'op-ffffffffffff';
export const SECRET = 'apiVersion: v1\nusers: [{ user: { token: super-secret } }]';

export class FakeAdminBackend implements AdminBackend {
  workerId = 'worker-test-1';
  calls: Array<[string, ...unknown[]]> = [];
  readiness: ReadyView = { redis: true, mongodb: true, pool: true };
  readyHangs = false;
  failWith: Error | null = null;
  private isPaused = false;

  documents: Record<string, Record<string, unknown>> = {
    [KNOWN_OPERATION]: {
      _id: KNOWN_OPERATION,
      database_id: 'db-0123456789ab',
      type: 'scale_vertical',
      desired_state: { size: 'db.t3.large', kubeconfig_content: SECRET },
      status: 'in_progress',
      progress: 40,
      message: 'Resizing the database to db.t3.large',
      ops_request_name: 'db-0123456789ab-vscale-1',
      ops_request_uid: null,
      ops_request_phase: 'Progressing',
      created_at: '2025-01-02T03:04:05.000Z',
      started_at: '2025-01-02T03:04:06.000Z',
      completed_at: null,
      estimated_completion_at: '2025-01-02T03:09:06.000Z',
      error_message: null,
      retry_count: 1,
      max_retries: 3,
      created_by: 'user-1',
      domain: 'acme',
      project: 'web',
      worker_state: {
        step: 'follow_ops_request',
        worker_id: 'worker-test-1',
        claim_token: 'claim-secret',
        restarts: 0,
        attempt: 1,
        updated_at: '2025-01-02T03:05:00.000Z',
      },
      kubeconfig_content: SECRET,
      provider: { kubeconfig_content: SECRET },
      internal_note: 'not part of the contract',
    },
  };

  actorList: ActorView[] = [
    {
      operationId: KNOWN_OPERATION,
      databaseId: 'db-0123456789ab',
      type: 'scale_vertical',
      thread: 2,
      startedAt: '2025-01-02T03:04:06.000Z',
      step: 'follow_ops_request',
      progress: 40,
      message: 'Resizing the database to db.t3.large',
      restarts: 0,
      // Not in ActorView: must not be answered.
      ...({ kubeconfig_content: SECRET } as object),
    },
  ];

  deadList: DeadLetterView[] = [
    {
      operationId: DEAD_OPERATION,
      reason: 'could not record the final status',
      at: '2025-01-02T04:00:00.000Z',
      ...({ kubeconfig_content: SECRET } as object),
    },
  ];

  private check(name: string, ...args: unknown[]): void {
    this.calls.push([name, ...args]);
    if (this.failWith) throw this.failWith;
  }

  called(name: string): unknown[][] {
    return this.calls.filter(([call]) => call === name).map(([, ...args]) => args);
  }

  actors(): ActorView[] {
    this.check('actors');
    return this.actorList;
  }

  async queue(): Promise<QueueView> {
    this.check('queue');
    return { pending: 5, delayed: 2, processing: 1, leased: 1, dead: 1 };
  }

  async ready(): Promise<ReadyView> {
    this.check('ready');
    if (this.readyHangs) return new Promise(() => {});
    return { ...this.readiness };
  }

  async operation(id: string): Promise<Record<string, unknown> | null> {
    this.check('operation', id);
    return this.documents[id] ?? null;
  }

  async enqueue(id: string, priority?: number): Promise<EnqueueResult> {
    this.check('enqueue', id, priority);
    if (id === FINAL_OPERATION) return 'final';
    if (id === QUEUED_OPERATION) return 'already_queued';
    return this.documents[id] ? 'queued' : 'not_found';
  }

  async cancel(id: string): Promise<CancelResult> {
    this.check('cancel', id);
    if (id === FINAL_OPERATION) return 'final';
    return this.documents[id] ? 'cancelled' : 'not_found';
  }

  async retryDead(id: string): Promise<RetryDeadResult> {
    this.check('retryDead', id);
    return id === DEAD_OPERATION ? 'queued' : 'not_found';
  }

  async deadLetters(limit: number): Promise<DeadLetterView[]> {
    this.check('deadLetters', limit);
    return this.deadList.slice(0, limit);
  }

  pause(): void {
    this.check('pause');
    this.isPaused = true;
  }

  resume(): void {
    this.check('resume');
    this.isPaused = false;
  }

  paused(): boolean {
    return this.isPaused;
  }

  async recycleThread(threadId: number): Promise<boolean> {
    this.check('recycleThread', threadId);
    return threadId === 1;
  }
}
