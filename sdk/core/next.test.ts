import assert from 'node:assert/strict';
import { checkContext } from '../testing/checks.js';
import { request } from '../testing/connections.js';
import { background, value, withValue } from './context.js';
import * as next from './next.js';
import { newNetworkServiceChain, newRegistryChain } from './next.js';
import type { Connection, NetworkServiceElement, RegistryElement } from './types.js';

/** An element that logs "<name> down" before and "<name> up" after the rest of the chain. */
function logging(name: string, log: string[]): NetworkServiceElement {
  return {
    async request(ctx, req) {
      log.push(`${name} request down`);
      const conn = await next.server(ctx).request(ctx, req);
      log.push(`${name} request up`);
      return conn;
    },
    async close(ctx, conn) {
      log.push(`${name} close down`);
      await next.server(ctx).close(ctx, conn);
      log.push(`${name} close up`);
    },
  };
}

/** An element that answers itself and never calls next. */
function answering(conn: Connection): NetworkServiceElement {
  return { request: async () => conn, close: async () => {} };
}

describe('network service chain', () => {
  it('runs the elements in order on the way down and in reverse on the way back', async () => {
    const log: string[] = [];
    const chain = newNetworkServiceChain(logging('a', log), logging('b', log), logging('c', log));
    const conn = await chain.request(background(), request({ id: 'x' }));
    assert.equal(conn.id, 'x');
    await chain.close(background(), conn);
    assert.deepEqual(log, [
      'a request down',
      'b request down',
      'c request down',
      'c request up',
      'b request up',
      'a request up',
      'a close down',
      'b close down',
      'c close down',
      'c close up',
      'b close up',
      'a close up',
    ]);
  });

  it('ends with a tail that returns the request connection', async () => {
    const req = request({ id: 'x', networkService: 'svc' });
    const conn = await newNetworkServiceChain().request(background(), req);
    assert.equal(conn, req.connection);
  });

  it('rejects a request without a connection at the tail', async () => {
    const req = request();
    req.connection = undefined;
    await assert.rejects(newNetworkServiceChain().request(background(), req), /request has no connection/);
  });

  it('stops where an element does not call next', async () => {
    const log: string[] = [];
    const chain = newNetworkServiceChain(
      logging('a', log),
      answering(request({ id: 'answer' }).connection!),
      logging('b', log),
    );
    const conn = await chain.request(background(), request({ id: 'x' }));
    assert.equal(conn.id, 'answer');
    assert.deepEqual(log, ['a request down', 'a request up']);
  });

  it('continues a nested chain with what follows it in the outer chain', async () => {
    const log: string[] = [];
    const inner = newNetworkServiceChain(logging('inner1', log), logging('inner2', log));
    const outer = newNetworkServiceChain(logging('outer1', log), inner, logging('outer2', log));
    await outer.request(background(), request({ id: 'x' }));
    assert.deepEqual(log, [
      'outer1 request down',
      'inner1 request down',
      'inner2 request down',
      'outer2 request down',
      'outer2 request up',
      'inner2 request up',
      'inner1 request up',
      'outer1 request up',
    ]);
    log.length = 0;
    await outer.close(background(), request({ id: 'x' }).connection!);
    assert.deepEqual(
      log.filter((l) => l.endsWith('down')),
      ['outer1 close down', 'inner1 close down', 'inner2 close down', 'outer2 close down'],
    );
  });

  it('passes context values down to later elements only', async () => {
    const key = Symbol('k');
    const seen: (string | undefined)[] = [];
    const setter: NetworkServiceElement = {
      request: (ctx, req) => next.server(ctx).request(withValue(ctx, key, 'set'), req),
      close: (ctx, conn) => next.server(ctx).close(ctx, conn),
    };
    const chain = newNetworkServiceChain(
      checkContext((c) => seen.push(value<string>(c, key))),
      setter,
      checkContext((c) => seen.push(value<string>(c, key))),
    );
    await chain.request(background(), request({ id: 'x' }));
    assert.deepEqual(seen, [undefined, 'set']);
  });

  it('serves concurrent calls independently (no state kept between calls)', async () => {
    const delays: Record<string, number> = { slow: 20, fast: 1 };
    const delaying: NetworkServiceElement = {
      async request(ctx, req) {
        await new Promise((r) => setTimeout(r, delays[req.connection!.id]));
        return next.server(ctx).request(ctx, req);
      },
      close: (ctx, conn) => next.server(ctx).close(ctx, conn),
    };
    const chain = newNetworkServiceChain(delaying, logging('after', []));
    const [slow, fast] = await Promise.all([
      chain.request(background(), request({ id: 'slow' })),
      chain.request(background(), request({ id: 'fast' })),
    ]);
    assert.equal(slow.id, 'slow');
    assert.equal(fast.id, 'fast');
  });

  it('outside any chain, next is the tail', async () => {
    const req = request({ id: 'x' });
    assert.equal(await next.server(background()).request(background(), req), req.connection);
    assert.equal(next.client, next.server);
  });
});

describe('registry chain', () => {
  type Item = { name: string };
  type El = RegistryElement<Item, string, string>;

  function loggingRegistry(name: string, log: string[]): El {
    return {
      async register(ctx, item) {
        log.push(`${name} register`);
        return next.registry<Item, string, string>(ctx).register(ctx, { name: `${item.name}+${name}` });
      },
      find(ctx, query, sink) {
        log.push(`${name} find ${query}`);
        return next.registry<Item, string, string>(ctx).find(ctx, query, (r) => sink(`${r}<${name}`));
      },
      async unregister(ctx, item) {
        log.push(`${name} unregister`);
        return next.registry<Item, string, string>(ctx).unregister(ctx, item);
      },
    };
  }

  function store(results: string[]): El {
    return {
      register: async (_c, item) => item,
      async find(_c, _q, sink) {
        for (const r of results) sink(r);
      },
      unregister: async () => {},
    };
  }

  it('runs register, find and unregister through every element in order', async () => {
    const log: string[] = [];
    const chain = newRegistryChain<Item, string, string>(
      loggingRegistry('a', log),
      loggingRegistry('b', log),
      store(['r1', 'r2']),
    );
    const got = await chain.register(background(), { name: 'x' });
    assert.equal(got.name, 'x+a+b');
    const found: string[] = [];
    await chain.find(background(), 'q', (r) => found.push(r));
    assert.deepEqual(found, ['r1<b<a', 'r2<b<a']);
    await chain.unregister(background(), { name: 'x' });
    assert.deepEqual(log, [
      'a register',
      'b register',
      'a find q',
      'b find q',
      'a unregister',
      'b unregister',
    ]);
  });

  it('ends with a tail that returns the item and finds nothing', async () => {
    const chain = newRegistryChain<Item, string, string>();
    const item = { name: 'x' };
    assert.equal(await chain.register(background(), item), item);
    const found: string[] = [];
    await chain.find(background(), 'q', (r) => found.push(r));
    assert.deepEqual(found, []);
    await chain.unregister(background(), item);
  });

  it('continues a nested chain with what follows it in the outer chain', async () => {
    const log: string[] = [];
    const inner = newRegistryChain<Item, string, string>(loggingRegistry('inner', log));
    const outer = newRegistryChain<Item, string, string>(loggingRegistry('outer', log), inner, store(['r']));
    assert.equal((await outer.register(background(), { name: 'x' })).name, 'x+outer+inner');
    const found: string[] = [];
    await outer.find(background(), 'q', (r) => found.push(r));
    assert.deepEqual(found, ['r<inner<outer']);
  });
});
