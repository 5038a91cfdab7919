import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background, type Context } from '../../core/context.js';
import { newRegistryChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import { parsePolicy, staticPolicy } from '../../tools/authzpolicy/index.js';
import { withPeer as withTlsPeer } from '../../tools/spiffe/peer.js';
import type { X509Source } from '../../tools/spiffe/source.js';
import { parseSpiffeId } from '../../tools/spiffe/spiffe-id.js';
import { withPeer } from '../../tools/unixpeer/index.js';
import * as memory from '../memory/index.js';
import * as authzpolicy from './index.js';

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const NSMGR = 'spiffe://example.org/nsmgr-node1';
const APPLY = 'spiffe://example.org/nsm-apply';
const POLICY = `
allow:
  - spiffeID: spiffe://example.org/nsmgr-*
    registerEndpoints: ["*"]
    registerServices: [icmp, forwarder]
  - spiffeID: ${APPLY}
    registerServices: ["*"]
`;

const tcp = (): Context => withPeer(background(), { transport: 'tcp', address: '10.0.0.1:1' });
const as = (id: string) => withTlsPeer(tcp(), { spiffeId: parseSpiffeId(id), publicKey });
const identity = { kind: 'test' } as unknown as X509Source; // only its presence matters here

function chains() {
  const source = staticPolicy(parsePolicy(POLICY, 'policy.yaml'), 'policy.yaml');
  const nseStore = memory.newNseServer();
  const nsStore = memory.newNsServer();
  return {
    nse: newRegistryChain(authzpolicy.newNseServer({ source, identity }), nseStore),
    ns: newRegistryChain(authzpolicy.newNsServer({ source, identity }), nsStore),
    names: async () => {
      const out: string[] = [];
      await nseStore.find(background(), { networkServiceEndpoint: undefined, watch: false }, (r) =>
        out.push(r.networkServiceEndpoint!.name),
      );
      await nsStore.find(background(), { networkService: undefined, watch: false }, (r) =>
        out.push(r.networkService!.name),
      );
      return out;
    },
  };
}

function denied(message: RegExp) {
  return (e: unknown) => {
    assert.equal(getErrorCode(e), status.PERMISSION_DENIED, String(e));
    assert.match((e as Error).message, message);
    return true;
  };
}

const nse = (name: string, services: string[]) =>
  NetworkServiceEndpoint.fromPartial({ name, url: 'tcp://10.0.0.1:5001', networkServiceNames: services });

describe('authzpolicy registry servers', () => {
  it('lets an allowed identity register endpoints and services', async () => {
    const c = chains();
    await c.nse.register(as(NSMGR), nse('forwarder-node1', ['forwarder']));
    await c.ns.register(as(APPLY), NetworkService.fromPartial({ name: 'secure' }));
    assert.deepEqual(await c.names(), ['forwarder-node1', 'secure']);
  });

  it('refuses an endpoint offering a service its identity may not register (a fake forwarder), naming both', async () => {
    const c = chains();
    await assert.rejects(
      c.nse.register(as(APPLY), nse('forwarder-x', ['forwarder'])),
      denied(
        /failed to register network service endpoint "forwarder-x": spiffe:\/\/example\.org\/nsm-apply is not allowed to by the authorization policy policy\.yaml/,
      ),
    );
    await assert.rejects(
      c.nse.register(as(NSMGR), nse('nse-1', ['icmp', 'secure'])),
      denied(
        /failed to register network service "secure": spiffe:\/\/example\.org\/nsmgr-node1 is not allowed/,
      ),
    );
    await assert.rejects(
      c.ns.register(as(NSMGR), NetworkService.fromPartial({ name: 'secure' })),
      denied(/register network service "secure": spiffe:\/\/example\.org\/nsmgr-node1 is not allowed/),
    );
    await assert.rejects(
      c.ns.register(tcp(), NetworkService.fromPartial({ name: 'icmp' })),
      denied(/the caller has no proven SPIFFE ID/),
    );
    assert.deepEqual(await c.names(), [], 'nothing was stored');
  });

  it('does not check Unregister (owner does) nor in-process calls', async () => {
    const c = chains();
    await c.nse.register(background(), nse('anything', ['secure']));
    await c.nse.unregister(as(APPLY), nse('anything', []));
    assert.deepEqual(await c.names(), []);
  });
});
