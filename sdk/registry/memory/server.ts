// memory is the store at the end of a registry chain: entries keyed by name, Find by template (the
// non-empty template fields must match, see sdk/tools/matchutils) and, with `watch`, a stream of
// every later change that matches: `{ item, deleted: false }` on Register, `{ item, deleted: true }`
// on Unregister (expiry reaches it as an Unregister too). It calls the next element first on
// Register/Unregister and only stores what succeeded; Find delivers its own matches and then
// whatever the next element finds. Unregister of an unknown name succeeds and emits nothing.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NseRegistry, NsRegistry, RegistryElement } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { matchNseTemplate, matchNsTemplate } from '../../tools/matchutils/index.js';

const log = logger('memory');
const noop = () => {};

interface Named {
  name: string;
}

/** How one registry's messages look to the generic store. */
interface Kind<T, Q, R> {
  template(q: Q): T | undefined;
  watch(q: Q): boolean;
  match(tpl: T | undefined, item: T): boolean;
  response(item: T, deleted: boolean): R;
}

interface Watcher<T, R> {
  template: T | undefined;
  sink: (r: R) => void;
  fail: (e: unknown) => void;
}

class Memory<T extends Named, Q, R> implements RegistryElement<T, Q, R> {
  private readonly items = new Map<string, T>();
  private readonly watchers = new Set<Watcher<T, R>>();

  constructor(private readonly kind: Kind<T, Q, R>) {}

  async register(ctx: Context, item: T): Promise<T> {
    const resp = await next.registry<T, Q, R>(ctx).register(ctx, item);
    const stored = structuredClone(resp);
    this.items.set(stored.name, stored);
    this.notify(stored, false);
    return resp;
  }

  async unregister(ctx: Context, item: T): Promise<void> {
    await next.registry<T, Q, R>(ctx).unregister(ctx, item);
    const stored = this.items.get(item.name);
    if (!stored) return;
    this.items.delete(item.name);
    this.notify(stored, true);
  }

  async find(ctx: Context, query: Q, sink: (r: R) => void): Promise<void> {
    const template = this.kind.template(query);
    // Snapshot and subscribe in the same tick, so no change falls between the list and the watch.
    const initial = [...this.items.values()].filter((it) => this.kind.match(template, it));
    if (!this.kind.watch(query)) {
      for (const it of initial) sink(this.kind.response(structuredClone(it), false));
      return next.registry<T, Q, R>(ctx).find(ctx, query, sink);
    }
    if (ctx.signal.aborted) return;
    let stop = noop;
    const watching = new Promise<void>((resolve, reject) => {
      const w: Watcher<T, R> = {
        template,
        sink,
        fail: (e) => {
          stop();
          reject(e);
        },
      };
      const onAbort = () => {
        stop();
        resolve();
      };
      stop = () => {
        this.watchers.delete(w);
        ctx.signal.removeEventListener('abort', onAbort);
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      this.watchers.add(w);
      try {
        for (const it of initial) sink(this.kind.response(structuredClone(it), false));
      } catch (e) {
        w.fail(e);
      }
    });
    try {
      await Promise.all([watching, next.registry<T, Q, R>(ctx).find(ctx, query, sink)]);
    } finally {
      stop();
    }
  }

  private notify(item: T, deleted: boolean): void {
    for (const w of [...this.watchers]) {
      if (!this.watchers.has(w) || !this.kind.match(w.template, item)) continue;
      try {
        w.sink(this.kind.response(structuredClone(item), deleted));
      } catch (e) {
        log.debug({ op: 'notify', err: getErrorMessage(e) }, 'dropping a watcher whose sink failed');
        w.fail(e);
      }
    }
  }
}

/** The in-memory store of network service endpoints. */
export function newNseServer(): NseRegistry {
  return new Memory({
    template: (q) => q.networkServiceEndpoint,
    watch: (q) => q.watch,
    match: (tpl, item) => matchNseTemplate(tpl ?? {}, item),
    response: (networkServiceEndpoint, deleted) => ({ networkServiceEndpoint, deleted }),
  });
}

/** The in-memory store of network services. */
export function newNsServer(): NsRegistry {
  return new Memory({
    template: (q) => q.networkService,
    watch: (q) => q.watch,
    match: (tpl, item) => matchNsTemplate(tpl ?? {}, item),
    response: (networkService, deleted) => ({ networkService, deleted }),
  });
}
