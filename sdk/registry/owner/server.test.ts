import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { newRegistryChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { withPeer } from '../../tools/unixpeer/index.js';
import * as begin from '../begin/index.js';
import * as expire from '../expire/index.js';
import * as memory from '../memory/index.js';
import { eventually } from '../testing.js';
import * as owner from './index.js';
import { peerIP, urlIP } from './server.js';

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

  it("lets only a caller from the holder's IP unregister an endpoint held under tcp://IP:PORT", async () => {
    const { ctx, chain, names, close } = setup();
    await chain.register(ctx, nse('x', 'tcp://10.0.0.2:5001'));
    const from = (address: string) => withPeer(ctx, { transport: 'tcp', address });
    for (const url of ['', 'tcp://10.0.0.2:5001']) {
      await assert.rejects(chain.unregister(from('10.0.0.9:40000'), nse('x', url)), (e: unknown) => {
        assert.equal(getErrorCode(e), status.PERMISSION_DENIED);
        assert.match(String(e), /registered by tcp:\/\/10\.0\.0\.2:5001; 10\.0\.0\.9 may not unregister it/);
        return true;
      });
    }
    assert.deepEqual(await names(), ['x@tcp://10.0.0.2:5001']);
    await chain.unregister(from('::ffff:10.0.0.2:33333'), nse('x', ''));
    assert.deepEqual(await names(), []);
    await close();
  });

  it('reads IPs from grpc-js peer strings and tcp URLs', () => {
    assert.equal(peerIP('10.0.0.2:5'), '10.0.0.2');
    assert.equal(peerIP('::ffff:10.0.0.2:5'), '10.0.0.2');
    assert.equal(peerIP('[fd00::1]:5'), 'fd00::1');
    assert.equal(peerIP('fd00::1:5'), 'fd00::1');
    assert.equal(urlIP('tcp://10.0.0.2:5001'), '10.0.0.2');
    assert.equal(urlIP('tcp://[fd00::1]:5001'), 'fd00::1');
    assert.equal(urlIP('tcp://nsmgr.example:5001'), undefined);
    assert.equal(urlIP('unix:///a.sock'), undefined);
  });
});
