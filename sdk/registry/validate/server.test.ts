import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background } from '../../core/context.js';
import { getErrorCode } from '../../errors/index.js';
import * as validate from './index.js';

type NsePartial = Parameters<typeof NetworkServiceEndpoint.fromPartial>[0];
type NsPartial = Parameters<typeof NetworkService.fromPartial>[0];

const ok: NsePartial = { name: 'nse-1', url: 'tcp://10.0.0.1:5001', networkServiceNames: ['icmp'] };
const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
const labels = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

const nseCases: { name: string; input: NsePartial; err?: string }[] = [
  { name: 'a valid endpoint', input: ok },
  { name: 'unix url', input: { ...ok, url: 'unix:///var/lib/nsm/nse.sock' } },
  { name: 'host:port url', input: { ...ok, url: 'nse.default:5003' } },
  { name: 'missing name', input: { ...ok, name: '' }, err: 'name: is required' },
  { name: 'name too long', input: { ...ok, name: 'n'.repeat(254) }, err: 'name: longer than 253' },
  { name: 'name with space', input: { ...ok, name: 'a b' }, err: 'name: contains whitespace' },
  { name: 'missing url', input: { ...ok, url: '' }, err: 'url: is required' },
  {
    name: 'url too long',
    input: { ...ok, url: `unix:///${'p'.repeat(1030)}` },
    err: 'url: longer than 1024',
  },
  { name: 'url without port', input: { ...ok, url: 'tcp://10.0.0.1' }, err: 'url: missing port' },
  { name: 'url other scheme', input: { ...ok, url: 'http://x:80' }, err: 'url: unsupported URL scheme' },
  {
    name: 'url relative unix',
    input: { ...ok, url: 'unix://nse.sock' },
    err: 'url: unix URL needs an absolute path',
  },
  {
    name: 'empty service name',
    input: { ...ok, networkServiceNames: ['icmp', ''] },
    err: 'network_service_names[1]',
  },
  {
    name: 'too many service names',
    input: { ...ok, networkServiceNames: many(257, (i) => `s${i}`) },
    err: 'more than 256 names',
  },
  {
    name: 'too many labels',
    input: { ...ok, networkServiceLabels: { icmp: { labels: labels(257) } } },
    err: 'more than 256 labels',
  },
  {
    name: 'label value too long',
    input: { ...ok, networkServiceLabels: { icmp: { labels: { app: 'v'.repeat(257) } } } },
    err: 'network_service_labels["icmp"]["app"]: label value longer than 256',
  },
  {
    name: 'label key too long',
    input: { ...ok, networkServiceLabels: { icmp: { labels: { ['k'.repeat(257)]: 'v' } } } },
    err: 'label key longer than 256',
  },
];

const nsCases: { name: string; input: NsPartial; err?: string }[] = [
  { name: 'a valid service', input: { name: 'icmp', payload: 'ETHERNET' } },
  { name: 'IP payload', input: { name: 'icmp', payload: 'IP' } },
  { name: 'empty payload', input: { name: 'icmp' } },
  {
    name: 'bad payload',
    input: { name: 'icmp', payload: 'ethernet' },
    err: 'payload: must be ETHERNET, IP or empty',
  },
  { name: 'missing name', input: { payload: 'IP' }, err: 'name: is required' },
  {
    name: 'oversized selector',
    input: { name: 'icmp', matches: [{ sourceSelector: labels(300) }] },
    err: 'matches[0].source_selector: more than 256 labels',
  },
];

function expectInvalid(p: Promise<unknown>, fragment: string) {
  return assert.rejects(p, (e: unknown) => {
    assert.equal(getErrorCode(e), status.INVALID_ARGUMENT);
    assert.ok(String(e).includes(fragment), `${String(e)} should include ${fragment}`);
    return true;
  });
}

describe('validate nse server', () => {
  const v = validate.newNseServer();
  for (const c of nseCases) {
    it(`${c.err ? 'refuses' : 'accepts'} ${c.name}`, async () => {
      const p = v.register(background(), NetworkServiceEndpoint.fromPartial(c.input));
      if (c.err) await expectInvalid(p, c.err);
      else await p;
    });
  }
  it('refuses an unregister without a name, but needs nothing else', async () => {
    await expectInvalid(
      v.unregister(background(), NetworkServiceEndpoint.fromPartial({})),
      'name: is required',
    );
    await v.unregister(background(), NetworkServiceEndpoint.fromPartial({ name: 'x' }));
  });
  it('says what it refused', async () => {
    await expectInvalid(
      v.register(background(), NetworkServiceEndpoint.fromPartial({ ...ok, url: 'x' })),
      'failed to register network service endpoint "nse-1": url: missing port',
    );
  });
});

describe('validate ns server', () => {
  const v = validate.newNsServer();
  for (const c of nsCases) {
    it(`${c.err ? 'refuses' : 'accepts'} ${c.name}`, async () => {
      const p = v.register(background(), NetworkService.fromPartial(c.input));
      if (c.err) await expectInvalid(p, c.err);
      else await p;
    });
  }
  it('refuses an unregister without a name', async () => {
    await expectInvalid(v.unregister(background(), NetworkService.fromPartial({})), 'name: is required');
  });
});
