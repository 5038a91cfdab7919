import * as assert from 'node:assert/strict';
import { loadConfig } from '../sdk/tools/config/index.js';
import { parseNsurlList } from '../sdk/tools/nsurl/index.js';
import { webhookSchema } from './config.js';
import { l7Annotations, mergeList } from './l7-annotations.js';

const I = 'traffic.sidecar.istio.io/excludeInterfaces';
const R = 'traffic.sidecar.istio.io/excludeOutboundIPRanges';
const P = 'traffic.sidecar.istio.io/excludeOutboundPorts';
const S = 'config.linkerd.io/skip-subnets';
const L = 'config.linkerd.io/skip-outbound-ports';

describe('webhook l7Annotations', () => {
  const prefixes = { 'my-vl3': ['172.16.0.0/16', 'fd00:16::/64'] };
  const cases: {
    name: string;
    urls: string;
    existing?: Record<string, string>;
    want: Record<string, string>;
  }[] = [
    {
      name: 'one kernel NSURL: its interface and the check port',
      urls: 'kernel://icmp/nsm-1',
      want: { [I]: 'nsm-1', [P]: '9', [L]: '9' },
    },
    {
      name: 'known prefixes go to both IP-range annotations',
      urls: 'kernel://my-vl3/nsm-1,kernel://icmp/nsm-2?l7=bypass',
      want: {
        [I]: 'nsm-1,nsm-2',
        [R]: '172.16.0.0/16,fd00:16::/64',
        [S]: '172.16.0.0/16,fd00:16::/64',
        [P]: '9',
        [L]: '9',
      },
    },
    {
      name: 'l7=capture: neither its interface nor its prefixes, but the check port',
      urls: 'kernel://my-vl3/nsm-1?l7=capture',
      want: { [P]: '9', [L]: '9' },
    },
    {
      name: 'an NSURL without an interface name has nothing to exclude by name',
      urls: 'kernel://icmp',
      want: { [P]: '9', [L]: '9' },
    },
    { name: 'no KERNEL NSURL: nothing', urls: 'memif://vpp/x', want: {} },
    {
      name: "the user's values are kept and only missing items are added",
      urls: 'kernel://my-vl3/nsm-1',
      existing: { [I]: 'eth1, nsm-1', [R]: '10.0.0.0/8', [L]: '25,9' },
      want: { [R]: '10.0.0.0/8,172.16.0.0/16,fd00:16::/64', [S]: '172.16.0.0/16,fd00:16::/64', [P]: '9' },
    },
  ];
  for (const { name, urls, existing, want } of cases) {
    it(name, () => {
      assert.deepEqual(l7Annotations(parseNsurlList(urls), existing, { servicePrefixes: prefixes }), want);
    });
  }

  it('rejects an unknown l7 value naming the service', () => {
    assert.throws(
      () => l7Annotations(parseNsurlList('kernel://gw/nsm-1?l7=yes'), undefined, { servicePrefixes: {} }),
      /NSURL of service gw: l7="yes"/,
    );
  });

  it('merges lists', () => {
    assert.equal(mergeList(undefined, ['a', 'a']), 'a');
    assert.equal(mergeList('', ['a']), 'a');
    assert.equal(mergeList('x,y', ['y', 'z']), 'x,y,z');
    assert.equal(mergeList(' x , y ', ['x']), ' x , y ', 'unchanged text when nothing is added');
  });

  it('reads NSM_L7_SERVICE_PREFIXES, and refuses a bad CIDR', () => {
    const raw = 'my-vl3=172.16.0.0/16 fd00::/64, gw=10.0.0.0/24';
    assert.deepEqual(loadConfig(webhookSchema, { NSM_L7_SERVICE_PREFIXES: raw }).l7ServicePrefixes, {
      'my-vl3': ['172.16.0.0/16', 'fd00::/64'],
      gw: ['10.0.0.0/24'],
    });
    assert.throws(
      () => loadConfig(webhookSchema, { NSM_L7_SERVICE_PREFIXES: 'gw=10.0.0.0' }),
      /NSM_L7_SERVICE_PREFIXES.*not a CIDR/s,
    );
  });
});
