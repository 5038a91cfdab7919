// A fake apiserver for unit tests of the k8s store: objects per plural with increasing resourceVersions,
// conditional update (409 on a stale resourceVersion), create (409 when it exists), delete with a
// resourceVersion precondition, list, and watch with the real protocol's edges: events after the given
// resourceVersion, BOOKMARK when asked, and `ERROR {code: 410}` then end of stream when that version is older
// than the compaction point. Tests break watches, compact, and inject failures through its methods.
import type { Cr } from './common.js';
import type { CrApi, CrList, WatchLike } from './kube-api.js';

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.body = JSON.stringify({ kind: 'Status', code, message });
  }
  readonly body: string;
}

interface Event {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  plural: string;
  object: Cr;
}

interface OpenWatch {
  plural: string;
  bookmarks: boolean;
  cb: (phase: string, obj: unknown) => void;
  end: (err: unknown) => void;
}

export class FakeApiServer {
  private rv = 100;
  private compactedAt = 0;
  private readonly objects = new Map<string, Map<string, Cr>>();
  private readonly events: { rv: number; e: Event }[] = [];
  private readonly watches = new Set<OpenWatch>();
  /** Calls per verb ("list networkserviceendpoints", "replace …"), for assertions. */
  readonly calls: string[] = [];
  /** Fail the next N calls of "verb plural" with the given HTTP status. */
  readonly failures = new Map<string, { code: number; times: number }>();
  /** Called before each write: tests change objects here to race the writer. */
  beforeWrite?: (verb: string, name: string) => void;

  private store(plural: string): Map<string, Cr> {
    let m = this.objects.get(plural);
    if (!m) {
      m = new Map();
      this.objects.set(plural, m);
    }
    return m;
  }

  private check(verb: string, plural: string): void {
    this.calls.push(`${verb} ${plural}`);
    const f = this.failures.get(`${verb} ${plural}`);
    if (f && f.times > 0) {
      f.times--;
      throw new HttpError(f.code, `injected ${f.code} on ${verb}`);
    }
  }

  private emit(plural: string, type: Event['type'], object: Cr): void {
    const e = {
      rv: Number(object.metadata.resourceVersion),
      e: { type, plural, object: structuredClone(object) },
    };
    this.events.push(e);
    for (const w of [...this.watches]) if (w.plural === plural) w.cb(type, structuredClone(object));
  }

  /** Writes as another client would (kubectl, another registry): bumps the version, notifies watchers. */
  put(plural: string, cr: Cr): Cr {
    const s = this.store(plural);
    const name = cr.metadata.name ?? '';
    const existed = s.has(name);
    const stored = structuredClone({
      ...cr,
      metadata: { ...cr.metadata, resourceVersion: String(++this.rv) },
    });
    s.set(name, stored);
    this.emit(plural, existed ? 'MODIFIED' : 'ADDED', stored);
    return structuredClone(stored);
  }

  remove(plural: string, name: string): void {
    const s = this.store(plural);
    const old = s.get(name);
    if (!old) return;
    s.delete(name);
    this.emit(plural, 'DELETED', {
      ...old,
      metadata: { ...old.metadata, resourceVersion: String(++this.rv) },
    });
  }

  get(plural: string, name: string): Cr | undefined {
    return this.store(plural).get(name);
  }

  /** Ends every open watch as a dropped connection does (done with an error). */
  breakWatches(err: unknown = new Error('connection reset')): void {
    for (const w of [...this.watches]) w.end(err);
  }

  /** Forgets history up to now: a watch from an older version gets 410 Gone. */
  compact(): void {
    this.compactedAt = this.rv;
    this.events.length = 0;
  }

  /** Sends a BOOKMARK at the current version to watches that asked for them. */
  bookmark(): void {
    for (const w of this.watches)
      if (w.bookmarks) w.cb('BOOKMARK', { metadata: { resourceVersion: String(this.rv) } });
  }

  get openWatches(): number {
    return this.watches.size;
  }

  api(plural: string): CrApi {
    const watcher: WatchLike = {
      watch: async (_path, params, cb, done) => {
        this.check('watch', plural);
        let ended = false;
        const w: OpenWatch = {
          plural,
          bookmarks: params.allowWatchBookmarks === true,
          cb,
          end: (err) => {
            if (ended) return;
            ended = true;
            this.watches.delete(w);
            queueMicrotask(() => done(err));
          },
        };
        const from = Number(params.resourceVersion ?? 0);
        if (from < this.compactedAt) {
          queueMicrotask(() => {
            cb('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
            w.end(null);
          });
          return { abort: () => w.end(new Error('aborted')) };
        }
        this.watches.add(w);
        for (const { rv, e } of this.events)
          if (e.plural === plural && rv > from) cb(e.type, structuredClone(e.object));
        return { abort: () => w.end(new Error('The user aborted a request.')) };
      },
    };
    return {
      path: `/apis/networkservicemesh.io/v1/namespaces/test/${plural}`,
      watcher,
      list: async (): Promise<CrList> => {
        this.check('list', plural);
        return {
          items: [...this.store(plural).values()].map((o) => structuredClone(o)),
          metadata: { resourceVersion: String(this.rv) },
        };
      },
      get: async (name) => {
        this.check('get', plural);
        const o = this.store(plural).get(name);
        if (!o) throw new HttpError(404, `"${name}" not found`);
        return structuredClone(o);
      },
      create: async (cr) => {
        this.beforeWrite?.('create', cr.metadata.name ?? '');
        this.check('create', plural);
        if (this.store(plural).has(cr.metadata.name ?? ''))
          throw new HttpError(409, `"${cr.metadata.name}" already exists`);
        return this.put(plural, cr);
      },
      replace: async (name, cr) => {
        this.beforeWrite?.('replace', name);
        this.check('replace', plural);
        const cur = this.store(plural).get(name);
        if (!cur) throw new HttpError(404, `"${name}" not found`);
        if (cr.metadata.resourceVersion && cr.metadata.resourceVersion !== cur.metadata.resourceVersion)
          throw new HttpError(
            409,
            'the object has been modified; please apply your changes to the latest version',
          );
        return this.put(plural, cr);
      },
      delete: async (name, resourceVersion) => {
        this.beforeWrite?.('delete', name);
        this.check('delete', plural);
        const cur = this.store(plural).get(name);
        if (!cur) throw new HttpError(404, `"${name}" not found`);
        if (resourceVersion && resourceVersion !== cur.metadata.resourceVersion)
          throw new HttpError(409, 'precondition failed: resourceVersion');
        this.remove(plural, name);
      },
      close: () => {},
    };
  }
}
