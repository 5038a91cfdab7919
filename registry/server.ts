// The registry daemon: the central store of network services and network service endpoints that
// every nsmgr forwards registrations and queries to (upstream registry-memory).
import { isIP } from 'node:net';
import { background, type Context } from '../sdk/core/context.js';
import { newRegistryChain } from '../sdk/core/next.js';
import type { NseRegistry, NsRegistry } from '../sdk/core/types.js';
import { unavailable } from '../sdk/errors/index.js';
import { addRegistryServices } from '../sdk/grpc/registry-server.js';
import { serve } from '../sdk/grpc/server.js';
import * as authzpolicy from '../sdk/registry/authzpolicy/index.js';
import * as begin from '../sdk/registry/begin/index.js';
import * as expire from '../sdk/registry/expire/index.js';
import * as k8s from '../sdk/registry/k8s/index.js';
import * as memory from '../sdk/registry/memory/index.js';
import * as metrics from '../sdk/registry/metrics/index.js';
import * as owner from '../sdk/registry/owner/index.js';
import * as validate from '../sdk/registry/validate/index.js';
import { openAuthzPolicy, type PolicySource } from '../sdk/tools/authzpolicy/index.js';
import { parseNsmUrl } from '../sdk/tools/config/index.js';
import { closeOnce, disposable } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';
import type { RegistryConfig } from './config.js';

const log = logger('registry');

export interface RegistryChains {
  ns: NsRegistry;
  nse: NseRegistry;
  /** Resolves when the stores can serve (the k8s backend: its caches hold the first list). */
  ready: Promise<void>;
  /** Why the stores are not ready yet ("" when no failure is known). */
  notReadyReason(): string;
  /** Stops the expiry timers (and the k8s backend's informers). */
  close(): Promise<void>;
}

export interface ChainOptions {
  expirePeriodMs?: number;
  /** memory (default) or k8s. */
  backend?: 'memory' | 'k8s';
  /** The k8s backend's options (namespace, kubeconfig, or a fake API in tests). */
  k8s?: k8s.K8sOptions;
  /** The authorization policy (NSM_AUTHZ_POLICY_FILE); absent: every registration is allowed. */
  policy?: PolicySource;
}

/** The two stores at the end of the chains: in memory, or custom resources through an informer cache. */
function newStores(opts: ChainOptions) {
  if (opts.backend !== 'k8s') {
    return {
      nse: memory.newNseServer(),
      ns: memory.newNsServer(),
      ready: Promise.resolve(),
      notReadyReason: () => '',
      close: async () => {},
    };
  }
  const nse = k8s.newNseServer(opts.k8s);
  const ns = k8s.newNsServer(opts.k8s);
  return {
    nse,
    ns,
    ready: Promise.all([nse.synced, ns.synced]).then(() => {}),
    notReadyReason: () => nse.lastError || ns.lastError,
    close: async () => {
      await Promise.all([nse.close(), ns.close()]);
    },
  };
}

export function newRegistryChains(opts: ChainOptions = {}): RegistryChains {
  const leases = expire.newNseServer({ expirePeriodMs: opts.expirePeriodMs });
  const stores = newStores(opts);
  const nse = newRegistryChain(
    validate.newNseServer(), // refuse malformed input before anything stores or forwards it
    ...(opts.policy ? [authzpolicy.newNseServer({ source: opts.policy })] : []), // the caller's SPIFFE ID may register this name and its services
    begin.newNseServer(), // one call at a time per endpoint name; expiry re-enters the chain here
    metrics.newNseServer(), // Prometheus: calls by code (owner's refusals too) and entries held (expiries pass here)
    owner.newNseServer(), // a name belongs to the identity (without identities: the URL) that holds it until it unregisters or expires
    leases, // stamp the lease on each Register; unregister through begin when it runs out
    stores.nse, // the store: Find by template, watch for changes
  );
  const ns = newRegistryChain(
    validate.newNsServer(), // refuse malformed input (name, payload, selectors)
    ...(opts.policy ? [authzpolicy.newNsServer({ source: opts.policy })] : []), // the caller's SPIFFE ID may register this service
    metrics.newNsServer(), // Prometheus: calls by code and entries held
    owner.newNsServer(), // with identities, a service belongs to the identity that registered it
    stores.ns, // the store: Find by template, watch for changes
  );
  return {
    ns,
    nse,
    ready: stores.ready,
    notReadyReason: stores.notReadyReason,
    close: async () => {
      await leases.close();
      opts.policy?.close();
      await stores.close();
    },
  };
}

/** How long startRegistry waits for the k8s backend's first list before giving up. */
const READY_TIMEOUT_MS = 30_000;

async function whenReady(chains: RegistryChains, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = chains.notReadyReason();
      reject(
        unavailable(
          `failed to start the registry: no list from the Kubernetes API within ${ms / 1000} s${why ? `: ${why}` : ''}`,
        ),
      );
    }, ms);
  });
  try {
    await Promise.race([chains.ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Registry {
  /** A URL clients can dial (for a wildcard tcp address, via 127.0.0.1). */
  readonly url: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export type RegistryOptions = Pick<RegistryConfig, 'listenOn'> &
  Partial<Omit<RegistryConfig, 'listenOn'>> & {
    /** k8s backend: options beyond the config (a kubeconfig file, sweep timing, a fake API in tests). */
    k8s?: k8s.K8sOptions;
    /** k8s backend: how long to wait for the first list before failing to start (default 30 s). */
    readyTimeoutMs?: number;
  };

/** Where a local client reaches a server bound to `bound` (a wildcard host becomes loopback). */
function dialableURL(bound: string): string {
  const r = parseNsmUrl(bound, { listen: true });
  if (!r.ok || r.url.scheme !== 'tcp') return bound;
  const { host, port } = r.url;
  if (host === '' || host === '0.0.0.0') return `tcp://127.0.0.1:${port}`;
  if (host === '::') return `tcp://[::1]:${port}`;
  return isIP(host) === 6 ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`;
}

/** grpc-js needs a host to bind; an empty one means every interface. */
function bindURL(listenOn: string): string {
  return listenOn.replace(/^tcp:\/\/:/, 'tcp://0.0.0.0:');
}

/** Starts the registry in this process; `close()` ends open watches and stops serving. */
export async function startRegistry(
  opts: RegistryOptions,
  parent: Context = background(),
): Promise<Registry> {
  const name = opts.name ?? 'registry';
  const chains = newRegistryChains({
    policy: openAuthzPolicy(opts.authzPolicyFile),
    expirePeriodMs: opts.expirePeriodMs,
    backend: opts.backend,
    k8s: { namespace: opts.k8sNamespace, ...opts.k8s },
  });
  await whenReady(chains, opts.readyTimeoutMs ?? READY_TIMEOUT_MS).catch(async (e: unknown) => {
    await chains.close();
    throw e;
  });
  const server = await serve({
    listenOn: [bindURL(opts.listenOn)],
    base: parent,
    register: (s, ctx) => addRegistryServices(s, chains, ctx),
  }).catch(async (e: unknown) => {
    await chains.close();
    throw e;
  });
  const url = dialableURL(server.urls[0]);
  log.info(
    {
      name,
      listenOn: opts.listenOn,
      url,
      expirePeriodMs: opts.expirePeriodMs,
      backend: opts.backend ?? 'memory',
    },
    'registry serving',
  );

  return disposable({
    url,
    close: closeOnce(async () => {
      await server.close(); // ends watching Finds with UNAVAILABLE, cancels calls in flight
      await chains.close();
      log.info({ name }, 'registry stopped');
    }),
  });
}
