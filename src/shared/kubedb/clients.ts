// One KubeCluster per provider (and one for the worker's own cluster), built from the
// provider's kubeconfig and kept until that kubeconfig changes. Kubeconfigs are secrets:
// neither they nor the parser's complaints about them (which quote their lines) are
// logged or put in error messages.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config.js';
import { PermanentError, TransientError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Database, Provider } from '../types.js';
import { KubeCluster, type RetryPolicy } from './cluster.js';
import type { WatchTiming } from './ops-request-watch.js';

export interface KubeClientsOptions {
  config: Config;
  logger: Logger;
  /** Overrides of the retry policy and watch timings, for tests and benchmarks. */
  retry?: Partial<RetryPolicy>;
  watch?: Partial<WatchTiming>;
}

/** Where a cluster's kubeconfig comes from: the text itself, or how to load it. */
interface KubeconfigSource {
  key: string;
  label: string;
  fingerprint: string;
  load(kubeConfig: KubeConfig): void;
  skipTlsVerify: boolean;
  /** Whether the kubeconfig may run commands for credentials (exec, auth-provider). */
  trustCommands: boolean;
}

const OWN_CLUSTER = '(own)';

function fingerprint(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

function unavailable(provider: string, why: string, hint: string): PermanentError {
  return new PermanentError('PROVIDER_UNAVAILABLE', `provider ${provider} ${why}`, {
    hint,
    details: { providerId: provider },
  });
}

function invalidKubeconfig(label: string, problem: string, hint: string): PermanentError {
  return new PermanentError('KUBECONFIG_INVALID', `the kubeconfig of ${label} ${problem}`, {
    hint,
  });
}

function readKubeconfigFile(path: string, label: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw invalidKubeconfig(label, `cannot be read from ${path} (${code})`, 'Fix the path');
  }
}

export class KubeClients {
  private readonly clusters = new Map<string, { fingerprint: string; cluster: KubeCluster }>();

  constructor(private readonly options: KubeClientsOptions) {}

  /**
   * The cluster a database lives on: its provider's, or the worker's own when it has no
   * provider. `provider` is the document named by database.provider_id (null if missing).
   *
   * A provider in maintenance gives a TransientError: maintenance ends by itself, so the
   * operation should wait and try again rather than fail. A missing or inactive provider
   * gives a PermanentError: only an operator can bring it back.
   */
  forDatabase(database: Pick<Database, 'provider_id'>, provider: Provider | null): KubeCluster {
    if (!database.provider_id) return this.cluster(this.ownSource());
    const id = database.provider_id;
    if (!provider || provider._id !== id) {
      throw unavailable(id, 'does not exist', "Set the database's provider_id to an existing one");
    }
    if (!provider.is_active) {
      throw unavailable(id, 'is inactive', 'Activate the provider, then queue the operation again');
    }
    if (provider.is_maintenance) {
      throw new TransientError('PROVIDER_UNAVAILABLE', `provider ${id} is in maintenance`, {
        hint: 'The operation is tried again later; it runs once maintenance is over',
        details: { providerId: id, maintenance: true },
      });
    }
    return this.cluster(this.providerSource(provider));
  }

  /** Closes every cluster's connections and watches. */
  close(): void {
    for (const { cluster } of this.clusters.values()) cluster.close();
    this.clusters.clear();
  }

  private cluster(source: KubeconfigSource): KubeCluster {
    const cached = this.clusters.get(source.key);
    if (cached && cached.fingerprint === source.fingerprint) return cached.cluster;

    const kubeConfig = new KubeConfig();
    try {
      source.load(kubeConfig);
    } catch (error) {
      if (error instanceof PermanentError) throw error;
      const line = (error as { mark?: { line?: number } }).mark?.line;
      throw invalidKubeconfig(
        source.label,
        `cannot be parsed${line === undefined ? '' : ` (line ${line + 1})`}`,
        'Store a valid kubeconfig (YAML with clusters, users and contexts)',
      );
    }
    const current = kubeConfig.getCurrentCluster();
    if (!current) {
      throw invalidKubeconfig(
        source.label,
        'names no current cluster',
        'Set current-context to a context whose cluster has a server URL',
      );
    }
    if (!kubeConfig.getCurrentUser()) {
      throw invalidKubeconfig(
        source.label,
        'names no user for its current context',
        'Add a user with a certificate or token to the current context',
      );
    }
    const user = kubeConfig.getCurrentUser();
    if (!source.trustCommands && (user?.exec || user?.authProvider)) {
      // Whoever can write a provider document would otherwise run commands in the worker.
      throw invalidKubeconfig(
        source.label,
        'asks to run a command for its credentials (exec or auth-provider)',
        'Give the provider a token or client certificate, or set ' +
          'PROVIDER_KUBECONFIG_COMMANDS=allow if provider documents are trusted',
      );
    }
    let server: URL;
    try {
      server = new URL(current.server);
    } catch {
      throw invalidKubeconfig(source.label, 'has a server that is not a URL', 'Fix the server');
    }
    if (source.skipTlsVerify) {
      kubeConfig.clusters = kubeConfig.clusters.map((c) =>
        c.name === current.name ? { ...c, skipTLSVerify: true } : c,
      );
    }

    const cluster = new KubeCluster(kubeConfig, {
      config: this.options.config,
      logger: this.options.logger.child({ cluster: source.key }),
      retry: this.options.retry,
      watch: this.options.watch,
    });
    // Followers of the old client finish on it; it closes once they are gone.
    cached?.cluster.retire();
    this.clusters.set(source.key, { fingerprint: source.fingerprint, cluster });
    this.options.logger.info(
      { cluster: source.key, server: server.host, rebuilt: Boolean(cached) },
      'kube_client_built',
    );
    return cluster;
  }

  // Known shortcoming: provider.api_endpoint is not used; the server named in the
  // provider's kubeconfig is the one contacted. A provider whose api_endpoint differs from
  // its kubeconfig is reached at the kubeconfig's address.
  private providerSource(provider: Provider): KubeconfigSource {
    const label = `provider ${provider._id}`;
    const skipTlsVerify = provider.verify_ssl === false;
    const content = provider.kubeconfig_content?.trim()
      ? provider.kubeconfig_content
      : provider.kubeconfig_path
        ? readKubeconfigFile(provider.kubeconfig_path, label)
        : null;
    if (content === null) {
      throw invalidKubeconfig(
        label,
        'is missing: the provider has neither kubeconfig_content nor kubeconfig_path',
        'Store the cluster kubeconfig on the provider',
      );
    }
    return {
      key: provider._id,
      label,
      fingerprint: fingerprint(content, String(skipTlsVerify)),
      load: (kubeConfig) => kubeConfig.loadFromString(content),
      skipTlsVerify,
      trustCommands: this.options.config.providerKubeconfigCommands,
    };
  }

  private ownSource(): KubeconfigSource {
    const path = this.options.config.kubeconfig;
    const label = 'the worker (KUBECONFIG)';
    if (path) {
      const content = readKubeconfigFile(path, label);
      return {
        key: OWN_CLUSTER,
        label,
        fingerprint: fingerprint(path, content),
        load: (kubeConfig) => {
          kubeConfig.loadFromString(content);
          // Relative certificate paths in a kubeconfig are relative to its directory.
          kubeConfig.makePathsAbsolute(path.replace(/[^/]*$/, '') || '.');
        },
        skipTlsVerify: false,
        trustCommands: true,
      };
    }
    if (!process.env.KUBERNETES_SERVICE_HOST) {
      throw invalidKubeconfig(
        'the worker',
        'is not set, and the worker does not run inside a Kubernetes cluster',
        'Set KUBECONFIG, or give the database a provider',
      );
    }
    return {
      key: OWN_CLUSTER,
      label: 'the worker (in-cluster)',
      fingerprint: 'in-cluster',
      load: (kubeConfig) => kubeConfig.loadFromCluster(),
      skipTlsVerify: false,
      trustCommands: true,
    };
  }
}
