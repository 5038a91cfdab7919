// metrics counts registry calls for Prometheus (sdk/tools/metrics): Register, Find and Unregister by
// gRPC code, and the entries held now. In the endpoint chain it sits right after begin: expiries
// re-enter there as Unregisters and leave the gauge, and the refusals of owner below are counted
// with their codes (ALREADY_EXISTS, PERMISSION_DENIED); only validate's, before begin, are not.
import { status } from '@grpc/grpc-js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { FindSink, RegistryElement } from '../../core/types.js';
import { getErrorCode } from '../../errors/index.js';
import { metricsEnabled, registryOperations, registrySize } from '../../tools/metrics/index.js';

class Metrics<T extends { name: string }, Q, R> implements RegistryElement<T, Q, R> {
  /** Names registered now: the gauge is this set's size (a refresh re-registers a held name). */
  private readonly names = new Set<string>();

  constructor(private readonly kind: 'nse' | 'ns') {}

  private async count<V>(op: string, fn: () => Promise<V>): Promise<V> {
    if (!metricsEnabled()) return fn();
    try {
      const v = await fn();
      registryOperations.inc({ registry: this.kind, op, code: 'OK' });
      return v;
    } catch (e) {
      registryOperations.inc({ registry: this.kind, op, code: status[getErrorCode(e)] });
      throw e;
    }
  }

  async register(ctx: Context, item: T): Promise<T> {
    const r = await this.count('register', () => next.registry<T, Q, R>(ctx).register(ctx, item));
    this.names.add(item.name);
    if (metricsEnabled()) registrySize.set({ registry: this.kind }, this.names.size);
    return r;
  }

  find(ctx: Context, query: Q, sink: FindSink<R>): Promise<void> {
    return this.count('find', () => next.registry<T, Q, R>(ctx).find(ctx, query, sink));
  }

  async unregister(ctx: Context, item: T): Promise<void> {
    try {
      await this.count('unregister', () => next.registry<T, Q, R>(ctx).unregister(ctx, item));
    } finally {
      this.names.delete(item.name);
      if (metricsEnabled()) registrySize.set({ registry: this.kind }, this.names.size);
    }
  }
}

/** For the endpoint registry chain, right before the store. */
export function newNseServer<T extends { name: string }, Q, R>(): RegistryElement<T, Q, R> {
  return new Metrics<T, Q, R>('nse');
}

/** For the service registry chain, right before the store. */
export function newNsServer<T extends { name: string }, Q, R>(): RegistryElement<T, Q, R> {
  return new Metrics<T, Q, R>('ns');
}
