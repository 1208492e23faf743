// Watch streams: newline-delimited JSON events on a chunked response, as the API server
// sends them. A stream starts from the requested resourceVersion (replaying the retained
// change log), or with synthetic ADDED events for what exists when none is given; a version
// older than the log gets a 410 Expired ERROR event; bookmarks carry the latest version.

import type { ServerResponse } from 'node:http';
import type { ResourceType } from './crd-catalog.js';
import { parseFieldSelector, parseLabelSelector } from './label-selector.js';
import { present } from './resources.js';
import { ApiError, badRequest } from './status.js';
import type { Change, KubeObject, Store } from './store.js';

export type WatchCutMode = 'end' | 'reset' | 'silent';

export interface WatchRequest {
  type: ResourceType;
  version: string;
  namespace?: string;
  labelSelector: string | null;
  fieldSelector: string | null;
  resourceVersion: string | null;
  allowBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
}

interface OpenStream {
  response: ServerResponse;
  silent: boolean;
  close(): void;
}

export class WatchHub {
  private readonly streams = new Set<OpenStream>();

  constructor(
    private readonly store: Store,
    private readonly bookmarkMs: () => number,
    private readonly onOpen: () => void,
    private readonly onClose: () => void,
  ) {}

  get open(): number {
    return this.streams.size;
  }

  /** Checks the request before any header is written, so mistakes still get a 400. */
  start(request: WatchRequest, response: ServerResponse): void {
    const labels = parseLabelSelector(request.labelSelector);
    const fields = parseFieldSelector(request.fieldSelector);
    const from = parseResourceVersion(request.resourceVersion);
    const matches = (object: KubeObject) =>
      labels(object.metadata.labels ?? {}) && fields(object.metadata);

    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    response.flushHeaders();

    const stream: OpenStream = { response, silent: false, close: () => {} };
    const send = (type: string, object: unknown) => {
      if (stream.silent || response.writableEnded || response.destroyed) return;
      response.write(`${JSON.stringify({ type, object })}\n`);
    };
    const typeMeta = {
      kind: request.type.kind,
      apiVersion: `${request.type.group}/${request.version}`,
    };
    const bookmark = (annotations?: Record<string, string>) =>
      send('BOOKMARK', {
        ...typeMeta,
        metadata: {
          resourceVersion: String(this.store.resourceVersion()),
          ...(annotations ? { annotations } : {}),
        },
      });

    if (from !== undefined && from > 0 && !request.sendInitialEvents) {
      const replay = this.store.changesAfter(from);
      if (replay === 'expired') {
        const gone = new ApiError(
          410,
          'Expired',
          `too old resource version: ${from} (${this.store.resourceVersion()})`,
        );
        send('ERROR', gone.toStatus());
        response.end();
        return;
      }
      for (const change of replay) this.deliver(change, request, matches, send);
    } else {
      const existing = this.store.list(request.type.group, request.type.plural, request.namespace);
      for (const object of existing.filter(matches)) {
        send('ADDED', present(object, request.type, request.version));
      }
      if (request.sendInitialEvents && request.allowBookmarks) {
        bookmark({ 'k8s.io/initial-events-end': 'true' });
      }
    }

    const unsubscribe = this.store.subscribe((change) =>
      this.deliver(change, request, matches, send),
    );
    const timers: NodeJS.Timeout[] = [];
    if (request.allowBookmarks) {
      timers.push(setInterval(() => bookmark(), Math.max(10, this.bookmarkMs())));
    }
    if (request.timeoutSeconds !== undefined && request.timeoutSeconds > 0) {
      timers.push(setTimeout(() => response.end(), request.timeoutSeconds * 1000));
    }
    let closed = false;
    stream.close = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      this.streams.delete(stream);
      this.onClose();
    };
    this.streams.add(stream);
    this.onOpen();
    response.on('close', stream.close);
  }

  /** `end` closes streams cleanly, `reset` destroys their sockets, `silent` starves them. */
  cut(mode: WatchCutMode = 'end'): number {
    const streams = [...this.streams];
    for (const stream of streams) {
      if (mode === 'silent') {
        stream.silent = true;
      } else if (mode === 'reset') {
        stream.response.socket?.destroy();
        stream.close();
      } else {
        stream.response.end();
        stream.close();
      }
    }
    return streams.length;
  }

  private deliver(
    change: Change,
    request: WatchRequest,
    matches: (object: KubeObject) => boolean,
    send: (type: string, object: unknown) => void,
  ): void {
    if (change.group !== request.type.group || change.plural !== request.type.plural) return;
    if (request.namespace !== undefined && change.namespace !== request.namespace) return;
    const now = matches(change.object);
    let type: string | undefined = now ? change.type : undefined;
    if (change.type === 'MODIFIED') {
      // A filtered watch sees an object enter or leave its view as ADDED or DELETED.
      const before = change.previous ? matches(change.previous) : now;
      if (now && !before) type = 'ADDED';
      if (!now && before) type = 'DELETED';
    }
    if (type) send(type, present(change.object, request.type, request.version));
  }
}

function parseResourceVersion(text: string | null): number | undefined {
  if (text === null || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw badRequest(`invalid resource version: ${text}`);
  }
  return value;
}
