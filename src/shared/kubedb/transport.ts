// HTTP to one Kubernetes API server with the credentials of a kubeconfig (TLS CA, client
// certificates, bearer or exec tokens), as @kubernetes/client-node resolves them. Requests
// go through node:https directly rather than the generated client so that each one has a
// time limit, Retry-After and Status bodies are readable, merge patches and strict field
// validation need no workarounds, and watch streams can be cut when they fall silent.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { PermanentError } from '../errors.js';
import { networkError, responseError } from './api-errors.js';
import { recordApiCall } from './api-calls.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'patch' | 'delete';

const METHODS: Record<Verb, string> = {
  get: 'GET',
  list: 'GET',
  watch: 'GET',
  create: 'POST',
  patch: 'PATCH',
  delete: 'DELETE',
};

export interface KubeRequest {
  verb: Verb;
  path: string;
  /** Names the target in error messages, e.g. "MongoDBOpsRequest demo/db-vscale-1". */
  target: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Status codes answered without an error (e.g. 404 for a delete). */
  accept?: number[];
}

export interface KubeResponse {
  statusCode: number;
  body: unknown;
}

/** Auth headers are recomputed this often, so rotated tokens (in-cluster, exec) are used. */
const AUTH_REFRESH_MS = 60_000;

interface Connection {
  agent: http.Agent;
  module: typeof http | typeof https;
  headers: Record<string, string>;
  at: number;
}

export class KubeTransport {
  private readonly server: URL;
  private connection: Promise<Connection> | null = null;
  private readonly counts = new Map<Verb, number>();
  private closed = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly timeoutMs: number,
  ) {
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) {
      throw new PermanentError('KUBECONFIG_INVALID', 'the kubeconfig has no current cluster', {
        hint: 'Set current-context to a context naming a cluster with a server URL',
      });
    }
    this.server = new URL(server);
  }

  /** Requests sent so far, by verb. */
  requestCounts(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** One request with a time limit; a non-success answer throws a classified WorkerError. */
  async request(request: KubeRequest): Promise<KubeResponse> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    let response: IncomingMessage;
    let text: string;
    try {
      response = await this.send(request, signal);
      text = await readBody(response);
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason;
      throw networkError(
        request.verb,
        request.target,
        error,
        timeout.aborted ? this.timeoutMs : undefined,
      );
    }
    const body = parseBody(text);
    const statusCode = response.statusCode ?? 0;
    if ((statusCode >= 200 && statusCode < 300) || request.accept?.includes(statusCode)) {
      return { statusCode, body };
    }
    throw responseError(request.verb, request.target, statusCode, body, response.headers);
  }

  /**
   * Opens a streaming response (a watch). Only the wait for the response headers is limited
   * by the request timeout; the caller watches the stream itself for silence.
   */
  async stream(request: KubeRequest): Promise<IncomingMessage> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    let response: IncomingMessage;
    try {
      response = await this.send(request, controller.signal);
    } catch (error) {
      request.signal?.removeEventListener('abort', onAbort);
      if (request.signal?.aborted) throw request.signal.reason;
      const timedOut = controller.signal.aborted ? this.timeoutMs : undefined;
      throw networkError(request.verb, request.target, error, timedOut);
    } finally {
      clearTimeout(timer);
    }
    response.once('close', () => request.signal?.removeEventListener('abort', onAbort));
    const statusCode = response.statusCode ?? 0;
    if (statusCode >= 200 && statusCode < 300) return response;
    const body = parseBody(await readBody(response).catch(() => ''));
    throw responseError(request.verb, request.target, statusCode, body, response.headers);
  }

  close(): void {
    this.closed = true;
    void this.connection?.then((connection) => connection.agent.destroy()).catch(() => {});
  }

  private async send(request: KubeRequest, signal: AbortSignal): Promise<IncomingMessage> {
    if (this.closed) throw new Error('the Kubernetes client was closed');
    const connection = await this.connect();
    const url = new URL(this.server.pathname.replace(/\/$/, '') + request.path, this.server);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = {
      ...connection.headers,
      accept: 'application/json',
      ...(payload === undefined
        ? {}
        : {
            'content-type': request.contentType ?? 'application/json',
            'content-length': String(Buffer.byteLength(payload)),
          }),
    };
    this.counts.set(request.verb, (this.counts.get(request.verb) ?? 0) + 1);

    return new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = connection.module.request(url, {
        method: METHODS[request.verb],
        headers,
        agent: connection.agent,
        signal,
      });
      outgoing.on('response', (response) => {
        recordApiCall(request.verb, response.statusCode ?? 0);
        resolve(response);
      });
      outgoing.on('error', (error) => {
        recordApiCall(request.verb, 0);
        reject(error);
      });
      outgoing.end(payload);
    });
  }

  /** TLS settings and auth headers from the kubeconfig; headers are refreshed now and then. */
  private async connect(): Promise<Connection> {
    const current = this.connection ? await this.connection : null;
    if (current && Date.now() - current.at < AUTH_REFRESH_MS) return current;
    this.connection = this.resolveConnection(current).catch((error: unknown) => {
      this.connection = null;
      throw error;
    });
    return this.connection;
  }

  private async resolveConnection(previous: Connection | null): Promise<Connection> {
    const options: https.RequestOptions = {};
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch (error) {
      throw new PermanentError(
        'KUBECONFIG_INVALID',
        `the kubeconfig's credentials cannot be used: ${(error as Error).message}`,
        { hint: 'Fix the certificate, key or token settings of the kubeconfig user', cause: error },
      );
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(options.headers ?? {})) {
      if (typeof value === 'string' || typeof value === 'number') headers[key] = String(value);
    }
    if (options.auth)
      headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    if (previous) {
      (options.agent as http.Agent | undefined)?.destroy();
      return { ...previous, headers, at: Date.now() };
    }

    const plain = this.server.protocol === 'http:';
    const proxied = Boolean(this.kubeConfig.getCurrentCluster()?.proxyUrl);
    let agent: http.Agent;
    if (proxied) {
      // client-node builds proxy agents itself; they keep its defaults (no keep-alive).
      agent = options.agent as http.Agent;
    } else {
      (options.agent as http.Agent | undefined)?.destroy();
      agent = plain
        ? new http.Agent({ keepAlive: true })
        : new https.Agent({
            keepAlive: true,
            ca: options.ca,
            cert: options.cert,
            key: options.key,
            pfx: options.pfx,
            passphrase: options.passphrase,
            servername: options.servername,
            rejectUnauthorized: options.rejectUnauthorized,
          });
    }
    return { agent, module: plain ? http : https, headers, at: Date.now() };
  }
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
    response.on('aborted', () => reject(new Error('response aborted')));
  });
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
