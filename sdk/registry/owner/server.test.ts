import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { newRegistryChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import * as begin from '../begin/index.js';
import * as expire from '../expire/index.js';
import * as memory from '../memory/index.js';
import { eventually } from '../testing.js';
import * as owner from './index.js';

const nse = (name: string, url: string) => NetworkServiceEndpoint.fromPartial({ name, url });

function setup() {
  const clock = new FakeClock();
  const ctx = fakeContext(clock);
  const exp = expire.newNseServer({ expirePeriodMs: 60_000 });
  const store = memory.newNseServer();
  const chain = newRegistryChain(begin.newNseServer(), owner.newNseServer(), exp, store);
  const names = async () => {
    const out: string[] = [];
    await chain.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
      out.push(`${r.networkServiceEndpoint?.name}@${r.networkServiceEndpoint?.url}`),
    );
    return out;
  };
  return { clock, ctx, chain, names, close: () => exp.close() };
}

describe('owner nse server', () => {
  it('refuses a registration of a held name from another url with ALREADY_EXISTS', async () => {
    const { ctx, chain, names, close } = setup();
    await chain.register(ctx, nse('x', 'unix:///a.sock'));
    await assert.rejects(chain.register(ctx, nse('x', 'unix:///b.sock')), (e: unknown) => {
      assert.equal(getErrorCode(e), status.ALREADY_EXISTS);
      assert.match(String(e), /"x" is already registered by another owner \(url unix:\/\/\/a\.sock\)/);
      return true;
    });
    assert.deepEqual(await names(), ['x@unix:///a.sock']);
    await close();
  });

  it('accepts a refresh from the same url', async () => {
    const { ctx, chain, close } = setup();
    await chain.register(ctx, nse('x', 'unix:///a.sock'));
    await chain.register(ctx, nse('x', 'unix:///a.sock'));
    await close();
  });

  it('lets another url take the name after an unregister', async () => {
    const { ctx, chain, names, close } = setup();
    await chain.register(ctx, nse('x', 'unix:///a.sock'));
    await chain.unregister(ctx, nse('x', 'unix:///a.sock'));
    await chain.register(ctx, nse('x', 'unix:///b.sock'));
    assert.deepEqual(await names(), ['x@unix:///b.sock']);
    await close();
  });

  it('lets another url take the name after the lease expired', async () => {
    const { clock, ctx, chain, names, close } = setup();
    await chain.register(ctx, nse('x', 'unix:///a.sock'));
    clock.advance(60_000);
    await eventually(async () => assert.deepEqual(await names(), []));
    await chain.register(ctx, nse('x', 'unix:///b.sock'));
    assert.deepEqual(await names(), ['x@unix:///b.sock']);
    await close();
  });

  it('refuses an unregister naming another url with PERMISSION_DENIED, accepts one without url', async () => {
    const { ctx, chain, names, close } = setup();
    await chain.register(ctx, nse('x', 'unix:///a.sock'));
    await assert.rejects(chain.unregister(ctx, nse('x', 'unix:///b.sock')), (e: unknown) => {
      assert.equal(getErrorCode(e), status.PERMISSION_DENIED);
      return true;
    });
    assert.deepEqual(await names(), ['x@unix:///a.sock']);
    await chain.unregister(ctx, nse('x', ''));
    assert.deepEqual(await names(), []);
    await close();
  });
});
