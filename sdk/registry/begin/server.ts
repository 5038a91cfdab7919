// begin serialises Register and Unregister calls per entry name, so the events for one network
// service or endpoint run one at a time and in order; Find passes straight through. It also hands
// the elements after it an EventFactory (`begin.fromContext(ctx)`) that re-enters the chain at this
// point with a fresh context, which is how mid-chain events such as expiry reach the memory store
// and its watchers. It sits early in a registry chain, after input validation.
import { background, type Context, withTimeout } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NseRegistry, NsRegistry, RegistryElement } from '../../core/types.js';
import { type EventFactory, withEventFactory } from './common.js';

/** Budget for an event begin starts on its own (expiry, refresh): it has no caller's deadline. */
export const EVENT_TIMEOUT_MS = 15_000;

interface Named {
  name: string;
}

const noop = () => undefined;

class Begin<T extends Named, Q, R> implements RegistryElement<T, Q, R> {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs fn after every earlier event for `name` has settled. */
  private serial<X>(name: string, fn: () => Promise<X>): Promise<X> {
    const run = (this.tails.get(name) ?? Promise.resolve()).then(fn);
    const tail = run.then(noop, noop);
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return run;
  }

  private factory(following: RegistryElement<T, Q, R>, values: Context['values']): EventFactory<T> {
    const event = async <X>(
      decorate: ((c: Context) => Context) | undefined,
      fn: (c: Context) => Promise<X>,
    ) => {
      const { ctx, cancel } = withTimeout({ ...background(), values }, EVENT_TIMEOUT_MS);
      try {
        const c = withEventFactory(ctx, factory);
        return await fn(decorate ? decorate(c) : c);
      } finally {
        cancel();
      }
    };
    const factory: EventFactory<T> = {
      register: (item, decorate) =>
        this.serial(item.name, () => event(decorate, (c) => following.register(c, item))),
      unregister: (item, decorate) =>
        this.serial(item.name, () => event(decorate, (c) => following.unregister(c, item))),
    };
    return factory;
  }

  register(ctx: Context, item: T): Promise<T> {
    return this.serial(item.name, () => {
      const following = next.registry<T, Q, R>(ctx);
      return following.register(withEventFactory(ctx, this.factory(following, ctx.values)), item);
    });
  }

  find(ctx: Context, query: Q, sink: (r: R) => void): Promise<void> {
    return next.registry<T, Q, R>(ctx).find(ctx, query, sink);
  }

  unregister(ctx: Context, item: T): Promise<void> {
    return this.serial(item.name, () => {
      const following = next.registry<T, Q, R>(ctx);
      return following.unregister(withEventFactory(ctx, this.factory(following, ctx.values)), item);
    });
  }
}

export function newNseServer(): NseRegistry {
  return new Begin();
}

export function newNsServer(): NsRegistry {
  return new Begin();
}
