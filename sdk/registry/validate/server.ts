// validate refuses malformed registry input with INVALID_ARGUMENT before anything else sees it:
// a missing or oversized name, an endpoint URL that is not unix:///path, tcp://host:port or
// host:port, labels or lists beyond sane limits, a NetworkService payload other than ETHERNET, IP
// or empty. The message names the field. It is the first element of a registry server chain, so
// no later element (and no store) ever holds what a client could not have meant.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NseRegistry, NsRegistry, RegistryElement } from '../../core/types.js';
import { invalidArgument } from '../../errors/index.js';
import { checkNseRegister, checkNsRegister, checkUnregister } from './common.js';

interface Named {
  name: string;
}

class Validate<T extends Named, Q, R> implements RegistryElement<T, Q, R> {
  constructor(
    private readonly what: string,
    private readonly checkRegister: (item: T) => string | undefined,
  ) {}

  private refuse(verb: string, item: T, problem: string): Error {
    // The name may be the problem (100 kB): quote only its start.
    const shown = item?.name && item.name.length > 64 ? `${item.name.slice(0, 64)}...` : item?.name;
    const name = shown ? ` "${shown}"` : '';
    return invalidArgument(`failed to ${verb} ${this.what}${name}: ${problem}`);
  }

  register(ctx: Context, item: T): Promise<T> {
    const problem = item ? this.checkRegister(item) : 'is empty';
    if (problem) return Promise.reject(this.refuse('register', item, problem));
    return next.registry<T, Q, R>(ctx).register(ctx, item);
  }

  find(ctx: Context, query: Q, sink: (r: R) => void): Promise<void> {
    return next.registry<T, Q, R>(ctx).find(ctx, query, sink);
  }

  unregister(ctx: Context, item: T): Promise<void> {
    const problem = item ? checkUnregister(item) : 'is empty';
    if (problem) return Promise.reject(this.refuse('unregister', item, problem));
    return next.registry<T, Q, R>(ctx).unregister(ctx, item);
  }
}

export function newNseServer(): NseRegistry {
  return new Validate('network service endpoint', checkNseRegister);
}

export function newNsServer(): NsRegistry {
  return new Validate('network service', checkNsRegister);
}
