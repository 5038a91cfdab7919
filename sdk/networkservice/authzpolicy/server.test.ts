import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { background, type Context } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import { recorder } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import { parsePolicy, staticPolicy } from '../../tools/authzpolicy/index.js';
import { currentLogging, setupLogging } from '../../tools/log.js';
import { type CA, newCA } from '../../tools/spiffe/ca.js';
import { withPeer as withTlsPeer } from '../../tools/spiffe/peer.js';
import type { X509Source } from '../../tools/spiffe/source.js';
import { parseSpiffeId } from '../../tools/spiffe/spiffe-id.js';
import { signSegmentToken } from '../../tools/token/jwt.js';
import { withPeer } from '../../tools/unixpeer/index.js';
import * as authzpolicy from './index.js';

const TD = 'example.org';
const id = (name: string) => `spiffe://${TD}/${name}`;
const POLICY = `allow:\n  - spiffeID: ${id('client-a')}\n    request: [secure]\n  - spiffeID: ${id('forwarder-*')}\n    request: ["*"]\n`;

/** A call that came in over the nsmgr's unix socket. */
const overUnix = (): Context =>
  withPeer(background(), { transport: 'unix', path: '/nsm.sock', pids: async () => [1] });

describe('authzpolicy server (nsmgr Request)', () => {
  let ca: CA;
  let otherCA: CA;
  const svids: Record<string, { key: ReturnType<typeof createPrivateKey>; cert: X509Certificate }> = {};

  before(async () => {
    ca = await newCA(TD);
    otherCA = await newCA(TD);
    for (const [name, from] of [
      ['client-a', ca],
      ['client-b', ca],
      ['forged-a', otherCA],
      ['forwarder-node1', ca],
    ] as const) {
      const s = await from.issue(id(name === 'forged-a' ? 'client-a' : name));
      svids[name] = { key: createPrivateKey(s.keyPem), cert: new X509Certificate(s.certPem) };
    }
  });

  const identity = (): X509Source => ({
    kind: 'test',
    svid: () => {
      throw new Error('not used');
    },
    bundlePem: () => ca.bundlePem,
    onUpdate: () => () => {},
    close: async () => {},
  });

  /** A request from a client whose segment 0 carries a token `signer` signed (the nsmgr is segment 1). */
  async function from(signer: string | undefined, o: { service?: string; cid?: string; sub?: string } = {}) {
    const token = signer
      ? await signSegmentToken(
          svids[signer].key,
          {
            sub: o.sub ?? id(signer.replace('forged-', 'client-')),
            aud: '',
            expiresMs: Date.now() + 60_000,
            segmentId: o.cid ?? 'c-0',
          },
          svids[signer].cert,
        )
      : Buffer.from('{"sub":"plain"}').toString('base64url');
    return request({
      id: 'n-1',
      networkService: o.service ?? 'secure',
      path: {
        index: 1,
        pathSegments: [
          { name: 'nsc', id: 'c-0', token },
          { name: 'nsmgr', id: 'n-1', token: '' },
        ],
      },
    });
  }

  function chain(opts: { noIdentity?: boolean } = {}) {
    const rec = recorder();
    const policy = staticPolicy(parsePolicy(POLICY, 'policy.yaml'), 'policy.yaml');
    const server = authzpolicy.newServer({
      source: policy,
      identity: opts.noIdentity ? undefined : identity(),
    });
    return { rec, chain: newNetworkServiceChain(server, rec) };
  }

  async function refused(ctx: Context, req: Awaited<ReturnType<typeof from>>, message: RegExp) {
    const { rec, chain: c } = chain();
    await assert.rejects(c.request(ctx, req), (e: unknown) => {
      assert.equal(getErrorCode(e), status.PERMISSION_DENIED, String(e));
      assert.match((e as Error).message, message);
      return true;
    });
    assert.equal(rec.calls.length, 0, 'nothing below ran');
  }

  it('lets a local client with an allowed identity request the service', async () => {
    const { rec, chain: c } = chain();
    await c.request(overUnix(), await from('client-a'));
    assert.deepEqual(rec.ops(), ['request n-1']);
  });

  it('refuses another identity, naming it and the service', async () => {
    await refused(
      overUnix(),
      await from('client-b'),
      /failed to request network service "secure": spiffe:\/\/example\.org\/client-b is not allowed to by the authorization policy policy\.yaml/,
    );
  });

  it('refuses a service the identity is not granted', async () => {
    await refused(
      overUnix(),
      await from('client-a', { service: 'other' }),
      /"other": spiffe:\/\/example\.org\/client-a is not allowed/,
    );
  });

  it('refuses a caller without a signed segment', async () => {
    await refused(
      overUnix(),
      await from(undefined),
      /the caller has no proven SPIFFE ID \(its segment "nsc" carries no signed token\)/,
    );
  });

  it('refuses a token from a CA outside the bundle, or issued for another segment', async () => {
    await refused(
      overUnix(),
      await from('forged-a'),
      /does not prove an identity: the token's certificate is not issued by a CA of our bundle/,
    );
    await refused(
      overUnix(),
      await from('client-a', { cid: 'other' }),
      /issued for segment id "other", not "c-0"/,
    );
    await refused(
      overUnix(),
      await from('client-b', { sub: id('client-a') }),
      /subject spiffe:\/\/example\.org\/client-a is not its signer spiffe:\/\/example\.org\/client-b/,
    );
  });

  it("over mTLS takes the peer's SPIFFE ID (a remote forwarder)", async () => {
    const { rec, chain: c } = chain();
    const ctx = withTlsPeer(overUnix(), {
      spiffeId: parseSpiffeId(id('forwarder-node1')),
      publicKey: svids['forwarder-node1'].cert.publicKey,
    });
    await c.request(ctx, await from(undefined, { service: 'anything' }));
    assert.equal(rec.calls.length, 1);
    const stranger = withTlsPeer(overUnix(), {
      spiffeId: parseSpiffeId(id('stranger')),
      publicKey: svids['client-b'].cert.publicKey,
    });
    await refused(stranger, await from('client-a'), /spiffe:\/\/example\.org\/stranger is not allowed/);
  });

  it('passes in-process calls, and everything when the daemon has no identity (insecure mode)', async () => {
    const inProcess = chain();
    await inProcess.chain.request(background(), await from(undefined));
    assert.equal(inProcess.rec.calls.length, 1);
    const saved = currentLogging();
    const lines: string[] = [];
    setupLogging({ level: 'info', sink: { write: (l: string) => void lines.push(l) } });
    try {
      const insecure = chain({ noIdentity: true });
      await insecure.chain.request(overUnix(), await from('client-b'));
      await insecure.chain.request(overUnix(), await from(undefined, { service: 'other' }));
      assert.equal(insecure.rec.calls.length, 2);
    } finally {
      setupLogging(saved);
    }
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => /NOT ENFORCED/.test(l.msg));
    assert.equal(warnings.length, 1, 'said once, clearly');
    assert.equal(warnings[0].level, 40);
    assert.match(warnings[0].msg, /no identity \(insecure mode\)/);
  });

  it('does not check Close', async () => {
    const { rec, chain: c } = chain();
    await c.close(overUnix(), (await from('client-b')).connection!);
    assert.deepEqual(rec.ops(), ['close n-1']);
  });
});
