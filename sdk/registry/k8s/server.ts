// k8s is the store at the end of a registry chain, kept in custom resources (deploy/crds) instead of memory:
// - Register creates or updates the object (update is conditional on the resourceVersion we last saw; a
//   409 re-reads the object and retries, up to MAX_ATTEMPTS);
// - Unregister deletes it (an unknown name is fine, as with memory);
// - Find, with or without watch, is served from a local cache: an informer on the namespace feeds a memory
//   store (sdk/registry/memory), so templates match exactly as with the memory backend and watchers see
//   registrations of every registry that shares the namespace. Our own writes enter the cache when the API
//   answers, so a Find right after Register sees it; the informer's later event for the same
//   resourceVersion is then a no-op, and events older than what the cache holds are dropped.
// - Endpoints whose expiration_time passed more than `staleGraceMs` ago are deleted (conditional on their
//   resourceVersion, so a refresh that raced wins): leftovers of a registry that died. A live registry's
//   own expiry (the expire element) removes its endpoints first.
import { status } from '@grpc/grpc-js';
import type {
  NetworkService,
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse,
  NetworkServiceQuery,
  NetworkServiceResponse,
} from '../../../api/gen/registry/registry.js';
import { type Clock, realClock } from '../../core/clock.js';
import { background, type Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { RegistryElement } from '../../core/types.js';
import { failedPrecondition, getErrorMessage, NsmError } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import * as memory from '../memory/index.js';
import {
  apiMessage,
  type Cr,
  GROUP,
  httpStatus,
  NS_PLURAL,
  NSE_PLURAL,
  newerVersion,
  nseFromCr,
  nseToSpec,
  nsFromCr,
  nsToSpec,
  objectName,
  VERSION,
} from './common.js';
import { type Informer, newInformer } from './informer.js';
import { type CrApi, defaultNamespace, loadKubeConfig, newCrApi } from './kube-api.js';

const log = logger('k8s');

/** Attempts of one Register against concurrent writers (each 409 re-reads the object). */
export const MAX_ATTEMPTS = 5;

export interface K8sOptions {
  /** The API of one plural (tests pass a fake apiserver's); otherwise built from `kubeconfig` and `namespace`. */
  api?: (plural: string) => CrApi;
  /** Kubeconfig file; default $KUBECONFIG, the pod's service account, ~/.kube/config. */
  kubeconfig?: string;
  /** Namespace of the objects; default the pod's namespace, the kubeconfig context's, or `default`. */
  namespace?: string;
  /** How often stale endpoints are looked for (default 5 s). */
  sweepIntervalMs?: number;
  /** How long past its expiration_time an endpoint is left to its own registry (default 5 s). */
  staleGraceMs?: number;
  clock?: Clock;
  /** Informer restart backoff (see informer.ts). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface K8sServer<T, Q, R> extends RegistryElement<T, Q, R> {
  /** Resolves once the cache holds the first list of the namespace. */
  readonly synced: Promise<void>;
  /** Why the informer last failed ("" when it has not), e.g. to explain a sync that does not come. */
  readonly lastError: string;
  /** Stops the informer and the sweeper. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Named {
  name: string;
}

interface Kind<T> {
  kind: 'NetworkService' | 'NetworkServiceEndpoint';
  plural: string;
  what: string;
  toSpec(item: T): Record<string, unknown>;
  fromCr(cr: Cr): T;
  /** When the entry expires (ms since epoch), if it does. */
  expiresAt(item: T): number | undefined;
}

interface Known {
  object: string;
  version: string | undefined;
  cr: Cr;
  deleted: boolean;
}

class K8sStore<T extends Named, Q, R> implements K8sServer<T, Q, R> {
  readonly synced: Promise<void>;
  private readonly api: CrApi;
  private readonly known = new Map<string, Known>();
  private readonly bg = background();
  private readonly clock: Clock;
  private readonly graceMs: number;
  private readonly informer: Informer;
  private sweeper: { clear(): void } | undefined;
  private closed = false;

  constructor(
    private readonly kind: Kind<T>,
    private readonly cache: RegistryElement<T, Q, R>,
    opts: K8sOptions,
  ) {
    if (opts.api) this.api = opts.api(kind.plural);
    else {
      const kc = loadKubeConfig(opts.kubeconfig);
      this.api = newCrApi(kc, opts.namespace || defaultNamespace(kc), kind.plural);
    }
    this.clock = opts.clock ?? realClock;
    this.graceMs = opts.staleGraceMs ?? 5_000;
    this.informer = newInformer({
      api: this.api,
      onAdd: (cr) => this.applied(cr),
      onUpdate: (cr) => this.applied(cr),
      onDelete: (cr) => this.removed(cr),
      initialBackoffMs: opts.initialBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
    });
    this.synced = this.informer.synced;
    const every = opts.sweepIntervalMs ?? 5_000;
    const sweep = () => {
      if (this.closed) return;
      this.sweep();
      this.sweeper = this.clock.setTimeout(sweep, every);
    };
    this.sweeper = this.clock.setTimeout(sweep, every);
  }

  /** An object as the API or the informer returned it enters the cache, unless the cache is newer. */
  private applied(cr: Cr): Promise<void> {
    const item = this.kind.fromCr(cr);
    const k = this.known.get(item.name);
    const version = cr.metadata.resourceVersion;
    if (k && !newerVersion(version, k.version)) return Promise.resolve();
    this.known.set(item.name, { object: cr.metadata.name ?? '', version, cr, deleted: false });
    return this.cache.register(this.bg, item).then(
      () => {},
      (e: unknown) =>
        log.warn({ element: 'k8s', op: 'cache', err: getErrorMessage(e) }, 'cache update failed'),
    );
  }

  private removed(cr: Cr): Promise<void> {
    const name = this.kind.fromCr(cr).name;
    const k = this.known.get(name);
    const version = cr.metadata.resourceVersion;
    if (!k || k.object !== cr.metadata.name || newerVersion(k.version, version)) return Promise.resolve();
    this.known.set(name, {
      ...k,
      version: newerVersion(version, k.version) ? version : k.version,
      deleted: true,
    });
    if (k.deleted) return Promise.resolve();
    return this.cache.unregister(this.bg, { name } as T);
  }

  get lastError(): string {
    return this.informer.lastError;
  }

  async register(ctx: Context, item: T): Promise<T> {
    if (this.closed)
      throw failedPrecondition(`failed to register ${this.kind.what}: the k8s store is closed`);
    const resp = await next.registry<T, Q, R>(ctx).register(ctx, item);
    const name = resp.name;
    const spec = this.kind.toSpec(resp);
    const object = this.known.get(name)?.object || objectName(name);
    let last: unknown;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const k = this.known.get(name);
      try {
        const cr =
          k && !k.deleted
            ? await this.api.replace(object, { ...k.cr, metadata: { ...k.cr.metadata }, spec })
            : await this.api.create({
                apiVersion: `${GROUP}/${VERSION}`,
                kind: this.kind.kind,
                metadata: { name: object },
                spec,
              });
        await this.applied(cr);
        return resp;
      } catch (e) {
        last = e;
        const code = httpStatus(e);
        if (code === 404 && k) {
          // deleted under us (a sweeper, kubectl): create it again
          this.known.set(name, { ...k, deleted: true });
          continue;
        }
        if (code !== 409) throw this.failed('register', name, e);
        // 409: created by someone else, or updated since we read it: re-read, then try again
        log.debug({ element: 'k8s', op: 'register', name, attempt }, 'conflict, re-reading');
        try {
          await this.applied(await this.api.get(object));
        } catch (ge) {
          if (httpStatus(ge) !== 404) throw this.failed('register', name, ge);
        }
      }
    }
    throw new NsmError(
      status.ABORTED,
      `failed to register ${this.kind.what} "${name}": still conflicting after ${MAX_ATTEMPTS} attempts: ${apiMessage(last)}`,
      { cause: last },
    );
  }

  async unregister(ctx: Context, item: T): Promise<void> {
    await next.registry<T, Q, R>(ctx).unregister(ctx, item);
    const k = this.known.get(item.name);
    if (k && !k.deleted && this.refreshedElsewhere(item, k)) {
      log.debug(
        { element: 'k8s', op: 'unregister', name: item.name },
        'lease refreshed through another registry',
      );
      return;
    }
    try {
      await this.api.delete(k?.object || objectName(item.name));
    } catch (e) {
      if (httpStatus(e) !== 404) throw this.failed('unregister', item.name, e);
    }
    if (k && !k.deleted) {
      this.known.set(item.name, { ...k, deleted: true });
      await this.cache.unregister(this.bg, item);
    }
  }

  /**
   * An Unregister carrying a lease that has run out (our expire element's, after the endpoint moved its
   * refreshes to another registry) while the stored object holds a later, still running one: the shared
   * entry is alive, and only this registry's view of it expired. Deleting it would drop a live endpoint.
   */
  private refreshedElsewhere(item: T, k: Known): boolean {
    const now = this.clock.now();
    const asked = this.kind.expiresAt(item);
    const stored = this.kind.expiresAt(this.kind.fromCr(k.cr));
    return asked !== undefined && stored !== undefined && asked <= now && stored > now && stored > asked;
  }

  find(ctx: Context, query: Q, sink: (r: R) => void): Promise<void> {
    // the memory store answers from the cache, then continues with our successor (ctx carries it)
    return this.cache.find(ctx, query, sink);
  }

  /** Deletes endpoints that expired more than graceMs ago and were not refreshed: their registry is gone. */
  private sweep(): void {
    const now = this.clock.now();
    for (const [name, k] of this.known) {
      if (k.deleted) continue;
      const at = this.kind.expiresAt(this.kind.fromCr(k.cr));
      if (at === undefined || at + this.graceMs > now) continue;
      log.info({ element: 'k8s', op: 'expire', name, object: k.object }, 'deleting stale registration');
      this.api.delete(k.object, k.version).then(
        () => this.removed({ ...k.cr, metadata: { ...k.cr.metadata } }),
        (e: unknown) => {
          // 404: already gone; 409: refreshed since we looked
          if (httpStatus(e) === 404 || httpStatus(e) === 409) return;
          log.warn(
            { element: 'k8s', op: 'expire', name, err: apiMessage(e) },
            'failed to delete stale registration',
          );
        },
      );
    }
  }

  private failed(op: string, name: string, e: unknown): NsmError {
    const code = httpStatus(e);
    const grpc =
      code === 422 || code === 400
        ? status.INVALID_ARGUMENT
        : code === 403 || code === 401
          ? status.PERMISSION_DENIED
          : status.UNAVAILABLE;
    return new NsmError(grpc, `failed to ${op} ${this.kind.what} "${name}" in Kubernetes: ${apiMessage(e)}`, {
      cause: e,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sweeper?.clear();
    await this.informer.close();
    this.api.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Network service endpoints as NetworkServiceEndpoint objects. */
export function newNseServer(
  opts: K8sOptions = {},
): K8sServer<NetworkServiceEndpoint, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse> {
  return new K8sStore(
    {
      kind: 'NetworkServiceEndpoint',
      plural: NSE_PLURAL,
      what: 'network service endpoint',
      toSpec: nseToSpec,
      fromCr: nseFromCr,
      expiresAt: (nse) => nse.expirationTime?.getTime(),
    },
    memory.newNseServer(),
    opts,
  );
}

/** Network services as NetworkService objects (they do not expire). */
export function newNsServer(
  opts: K8sOptions = {},
): K8sServer<NetworkService, NetworkServiceQuery, NetworkServiceResponse> {
  return new K8sStore(
    {
      kind: 'NetworkService',
      plural: NS_PLURAL,
      what: 'network service',
      toSpec: nsToSpec,
      fromCr: nsFromCr,
      expiresAt: () => undefined,
    },
    memory.newNsServer(),
    opts,
  );
}
