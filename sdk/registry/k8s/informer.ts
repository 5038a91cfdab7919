// An informer over one kind of custom resource: client-node's ListWatch (list, then watch from the list's
// resourceVersion; on 410 Gone, or a watch ERROR event with code 410, relist and report what vanished as
// deletes) plus what ListWatch leaves to its user:
// - bookmarks: every watch asks for them, so a quiet watch still advances its resourceVersion and a
//   reconnect after a break resumes instead of relisting;
// - restarts: ListWatch stops on any other error (apiserver down, 5xx, a list that fails); we start it
//   again after a capped doubling backoff, reset by a successful list or any watch event;
// - `synced`: resolves after the first successful list, so a registry serves no Find from an empty cache.
import { ADD, DELETE, ERROR, ListWatch, UPDATE } from '@kubernetes/client-node';
import { logger } from '../../tools/log.js';
import { apiMessage, type Cr } from './common.js';
import type { CrApi, WatchLike } from './kube-api.js';

const log = logger('k8s');

export interface InformerOptions {
  api: Pick<CrApi, 'path' | 'watcher' | 'list'>;
  onAdd(cr: Cr): void;
  onUpdate(cr: Cr): void;
  onDelete(cr: Cr): void;
  /** First pause before a restart (default 200 ms); doubles per failure up to `maxBackoffMs` (default 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Injectable for tests: schedules `fn` after `ms`. */
  setTimeout?: (fn: () => void, ms: number) => { clear(): void };
}

export interface Informer {
  /** Resolves after the first successful list (its objects have been reported through onAdd). */
  readonly synced: Promise<void>;
  /** The last failure that stopped it ("" when none yet), for errors about a sync that does not come. */
  readonly lastError: string;
  close(): Promise<void>;
}

const defaultSetTimeout = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  return { clear: () => clearTimeout(t) };
};

class CrInformer implements Informer {
  readonly synced: Promise<void>;
  private markSynced!: () => void;
  private readonly lw: ListWatch<Cr & { metadata: { name?: string } }>;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly schedule: NonNullable<InformerOptions['setTimeout']>;
  private backoffMs: number;
  private restart: { clear(): void } | undefined;
  private closed = false;
  lastError = '';
  /** A list succeeded (its objects are reported once ListWatch.start resolves). */
  private listed = false;

  constructor(opts: InformerOptions) {
    this.initialMs = opts.initialBackoffMs ?? 200;
    this.maxMs = opts.maxBackoffMs ?? 30_000;
    this.backoffMs = this.initialMs;
    this.schedule = opts.setTimeout ?? defaultSetTimeout;
    this.synced = new Promise((resolve) => {
      this.markSynced = resolve;
    });
    const inner = opts.api.watcher;
    const watcher: WatchLike = {
      watch: async (path, params, callback, done) => {
        // ListWatch opens the watch after its list even when stopped meanwhile: never after close
        if (this.closed) return { abort() {} };
        const req = await inner.watch(
          path,
          { ...params, allowWatchBookmarks: true },
          (phase, obj, raw) => {
            if (this.closed) return;
            if (phase !== 'ERROR') this.backoffMs = this.initialMs; // the watch works
            callback(phase, obj, raw);
          },
          done,
        );
        if (this.closed) req.abort();
        return req;
      },
    };
    const list = async () => {
      const l = await opts.api.list();
      this.backoffMs = this.initialMs;
      this.listed = true;
      return l;
    };
    // biome-ignore lint/suspicious/noExplicitAny: ListWatch's generics want client-node's own object types
    this.lw = new ListWatch(opts.api.path, watcher as any, list as any, false);
    this.lw.on(ADD, (o) => this.closed || opts.onAdd(o));
    this.lw.on(UPDATE, (o) => this.closed || opts.onUpdate(o));
    this.lw.on(DELETE, (o) => this.closed || opts.onDelete(o));
    this.lw.on(ERROR, (err) => this.onError(err));
    this.start();
  }

  private start(): void {
    this.restart = undefined;
    if (this.closed) return;
    // ListWatch.start resolves when the list is in and the watch is open; errors arrive through ERROR.
    this.lw.start().then(
      () => {
        if (this.listed) this.markSynced();
      },
      (e: unknown) => this.onError(e),
    );
  }

  private onError(err: unknown): void {
    if (this.closed || this.restart) return;
    this.lastError = apiMessage(err);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxMs);
    log.warn(
      { element: 'k8s', op: 'watch', path: this.lwPath, err: this.lastError, retryInMs: delay },
      'informer stopped, restarting',
    );
    void this.lw.stop();
    this.restart = this.schedule(() => this.start(), delay);
  }

  private get lwPath(): string {
    return (this.lw as unknown as { path: string }).path;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.restart?.clear();
    this.restart = undefined;
    await this.lw.stop();
  }
}

export function newInformer(opts: InformerOptions): Informer {
  return new CrInformer(opts);
}
