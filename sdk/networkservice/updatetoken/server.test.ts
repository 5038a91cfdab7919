import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { recorder } from '../../testing/checks.js';
import { FakeClock } from '../../testing/clock.js';
import { pathOf, request } from '../../testing/connections.js';
import { injectClock } from '../../testing/inject.js';
import * as updatepath from '../updatepath/index.js';
import * as updatetoken from './index.js';

const NOW = Date.UTC(2024, 0, 1);

function decode(token: string): { sub: string; aud: string; exp: number } {
  return JSON.parse(Buffer.from(token, 'base64url').toString());
}

function setup(opts?: updatetoken.TokenOptions) {
  const clock = new FakeClock(NOW);
  const rec = recorder();
  const chain = newNetworkServiceChain(
    injectClock(clock),
    updatepath.newServer('nsmgr'),
    updatetoken.newServer(opts),
    rec,
  );
  return { clock, rec, chain };
}

describe('updatetoken server', () => {
  it('stamps our segment with a token and an expiry of now + the maximum lifetime', async () => {
    const { rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    await chain.request(background(), request(pathOf(['nsc'])));
    const ours = rec.calls[0].request!.connection!.path!.pathSegments[1];
    assert.equal(ours.expires?.getTime(), NOW + 60_000);
    assert.deepEqual(decode(ours.token), { sub: 'nsmgr', aud: 'nsc', exp: (NOW + 60_000) / 1000 });
  });

  it('uses a 10 minute lifetime by default', async () => {
    const { rec, chain } = setup();
    await chain.request(background(), request(pathOf(['nsc'])));
    const ours = rec.calls[0].request!.connection!.path!.pathSegments[1];
    assert.equal(updatetoken.DEFAULT_MAX_TOKEN_LIFETIME_MS, 600_000);
    assert.equal(ours.expires?.getTime(), NOW + 600_000);
  });

  it('fills in the previous segment when the caller left it without an expiry', async () => {
    const { rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    await chain.request(background(), request(pathOf(['nsc'])));
    const prev = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.expires?.getTime(), NOW + 60_000);
    assert.deepEqual(decode(prev.token), { sub: 'nsc', aud: 'nsmgr', exp: (NOW + 60_000) / 1000 });
  });

  it('keeps the previous segment the caller stamped itself', async () => {
    const { rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    const req = request(pathOf(['nsc']));
    const expires = new Date(NOW + 5_000);
    req.connection!.path!.pathSegments[0].expires = expires;
    req.connection!.path!.pathSegments[0].token = 'callers-token';
    await chain.request(background(), req);
    const prev = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.expires?.getTime(), expires.getTime());
    assert.equal(prev.token, 'callers-token');
  });

  it('renews our token on every refresh, with the time of the clock', async () => {
    const { clock, rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    const first = await chain.request(background(), request(pathOf(['nsc'])));
    clock.advance(20_000);
    await chain.request(background(), request({ id: first.id, path: first.path }));
    const ours = rec.calls[1].request!.connection!.path!.pathSegments[1];
    assert.equal(ours.expires?.getTime(), NOW + 80_000);
    assert.equal(decode(ours.token).exp, (NOW + 80_000) / 1000);
  });

  it('stamps the only segment of a first hop with no audience', async () => {
    const clock = new FakeClock(NOW);
    const rec = recorder();
    const chain = newNetworkServiceChain(
      injectClock(clock),
      updatepath.newClient('nsc'),
      updatetoken.newClient(),
      rec,
    );
    await chain.request(background(), request({ id: 'a' }));
    const only = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.deepEqual(decode(only.token), { sub: 'nsc', aud: '', exp: (NOW + 600_000) / 1000 });
  });

  it('passes close through unchanged', async () => {
    const { rec, chain } = setup();
    const conn = request(pathOf(['nsc'])).connection!;
    await chain.close(background(), conn);
    assert.equal(rec.calls[0].op, 'close');
    assert.equal(rec.calls[0].conn?.path?.pathSegments[1].token, '');
  });
});
