import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newRegistryChain } from '../../core/next.js';
import type { NseRegistry } from '../../core/types.js';
import { NsmError } from '../../errors/index.js';
import { nse } from '../../testing/connections.js';
import { registryOperations, registrySize, setMetricsEnabled } from '../../tools/metrics/index.js';
import * as memory from '../memory/index.js';
import * as metrics from './index.js';

async function value(
  metric: typeof registryOperations | typeof registrySize,
  labels: Record<string, string>,
) {
  const data = await metric.get();
  const hit = data.values.find((v) =>
    Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
  );
  return hit?.value ?? 0;
}

/** Refuses the endpoint named "bad", as owner or validate would (they sit before the store). */
const refuseBad: NseRegistry = {
  register: async (ctx, item) => {
    if (item.name === 'bad') throw new NsmError(status.ALREADY_EXISTS, 'taken');
    return next.registry<typeof item, never, never>(ctx).register(ctx, item);
  },
  find: (ctx, q, sink) => next.registry<never, typeof q, never>(ctx).find(ctx, q, sink as never),
  unregister: (ctx, item) => next.registry<typeof item, never, never>(ctx).unregister(ctx, item),
};

describe('registry metrics', () => {
  afterEach(() => setMetricsEnabled(false));

  it('counts calls by code and the entries the store holds', async () => {
    setMetricsEnabled(true);
    const chain = newRegistryChain(metrics.newNseServer(), refuseBad, memory.newNseServer()) as NseRegistry;
    const before = await value(registryOperations, { registry: 'nse', op: 'register', code: 'OK' });
    await chain.register(background(), nse('a'));
    await chain.register(background(), nse('b'));
    await chain.register(background(), nse('a')); // a refresh: still two entries
    await assert.rejects(chain.register(background(), nse('bad')), /taken/);
    assert.equal(await value(registrySize, { registry: 'nse' }), 2);
    assert.equal(
      await value(registryOperations, { registry: 'nse', op: 'register', code: 'OK' }),
      before + 3,
    );
    assert.ok(
      (await value(registryOperations, { registry: 'nse', op: 'register', code: 'ALREADY_EXISTS' })) >= 1,
    );
    await chain.unregister(background(), nse('a'));
    assert.equal(await value(registrySize, { registry: 'nse' }), 1);
  });
});
