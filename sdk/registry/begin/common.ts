import { type Context, value, withValue } from '../../core/context.js';

/**
 * Re-enters the registry chain right after begin, serialised with every other event for the same
 * name. Elements get it with `begin.fromContext(ctx)` during a Register and may keep it: it stays
 * valid after that call returns (it is how expire unregisters an entry that was not refreshed).
 */
export interface EventFactory<T> {
  /** Registers `item` again from begin on; `decorate` may add values to the event's context. */
  register(item: T, decorate?: (ctx: Context) => Context): Promise<T>;
  /** Unregisters `item` from begin on; `decorate` may add values to the event's context. */
  unregister(item: T, decorate?: (ctx: Context) => Context): Promise<void>;
}

const FACTORY_KEY = Symbol('registry-begin-event-factory');

export function withEventFactory<T>(ctx: Context, f: EventFactory<T>): Context {
  return withValue(ctx, FACTORY_KEY, f);
}

export function fromContext<T>(ctx: Context): EventFactory<T> | undefined {
  return value<EventFactory<T>>(ctx, FACTORY_KEY);
}
