import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { IPContext } from '../../api/gen/networkservice/connectioncontext.js';
import { isNsmError } from '../errors/index.js';
import { contextPlan, type InterfacePlan } from './connection-context.js';

type Partial = Parameters<typeof IPContext.fromPartial>[0];

const none: InterfacePlan = { addresses: [], routes: [], neighbors: [] };

const cases: { name: string; input: Partial; client: InterfacePlan; endpoint: InterfacePlan }[] = [
  {
    name: 'point-to-point /32 (point2pointipam)',
    input: {
      srcIpAddrs: ['172.16.1.101/32'],
      dstIpAddrs: ['172.16.1.100/32'],
      srcRoutes: [{ prefix: '172.16.1.100/32' }],
      dstRoutes: [{ prefix: '172.16.1.101/32' }],
    },
    // The peer's /32 is both a link route and a src route inside the peer's prefix: one link route.
    client: { addresses: ['172.16.1.101/32'], routes: [{ prefix: '172.16.1.100/32' }], neighbors: [] },
    endpoint: { addresses: ['172.16.1.100/32'], routes: [{ prefix: '172.16.1.101/32' }], neighbors: [] },
  },
  {
    name: 'shared /24 with routes behind each side',
    input: {
      srcIpAddrs: ['10.0.0.1/24'],
      dstIpAddrs: ['10.0.0.2/24'],
      srcRoutes: [{ prefix: '10.1.0.0/16' }],
      dstRoutes: [{ prefix: '10.2.0.0/16' }, { prefix: '10.0.0.0/24' }],
    },
    // No link routes: each side's own /24 already covers the peer.
    client: {
      addresses: ['10.0.0.1/24'],
      routes: [{ prefix: '10.1.0.0/16', via: '10.0.0.2' }],
      neighbors: [],
    },
    endpoint: {
      addresses: ['10.0.0.2/24'],
      routes: [{ prefix: '10.2.0.0/16', via: '10.0.0.1' }, { prefix: '10.0.0.0/24' }],
      neighbors: [],
    },
  },
  {
    name: 'IPv6 point-to-point',
    input: {
      srcIpAddrs: ['fd00::1/128'],
      dstIpAddrs: ['fd00:0::2/128'],
      srcRoutes: [{ prefix: 'fd00::2/128' }, { prefix: 'fd10::/64' }],
      dstRoutes: [{ prefix: 'fd00::1/128' }],
    },
    client: {
      addresses: ['fd00::1/128'],
      routes: [{ prefix: 'fd00::2/128' }, { prefix: 'fd10::/64', via: 'fd00::2' }],
      neighbors: [],
    },
    endpoint: { addresses: ['fd00::2/128'], routes: [{ prefix: 'fd00::1/128' }], neighbors: [] },
  },
  {
    name: 'an explicit nextHop wins',
    input: {
      srcIpAddrs: ['172.16.1.101/32'],
      dstIpAddrs: ['172.16.1.100/32'],
      srcRoutes: [
        { prefix: '10.5.0.0/16', nextHop: '172.16.1.1' },
        { prefix: '172.16.1.100/32', nextHop: '172.16.1.9' },
      ],
    },
    client: {
      addresses: ['172.16.1.101/32'],
      routes: [
        { prefix: '172.16.1.100/32', via: '172.16.1.9' },
        { prefix: '10.5.0.0/16', via: '172.16.1.1' },
      ],
      neighbors: [],
    },
    endpoint: { addresses: ['172.16.1.100/32'], routes: [{ prefix: '172.16.1.101/32' }], neighbors: [] },
  },
  {
    name: 'mixed families pick the next hop of the same family',
    input: {
      srcIpAddrs: ['172.16.1.101/32', 'fd00::101/128'],
      dstIpAddrs: ['172.16.1.100/32', 'fd00::100/128'],
      srcRoutes: [{ prefix: '10.9.0.0/16' }, { prefix: 'fd09::/64' }],
      dstRoutes: [{ prefix: 'fd0a::/64' }],
    },
    client: {
      addresses: ['172.16.1.101/32', 'fd00::101/128'],
      routes: [
        { prefix: '172.16.1.100/32' },
        { prefix: 'fd00::100/128' },
        { prefix: '10.9.0.0/16', via: '172.16.1.100' },
        { prefix: 'fd09::/64', via: 'fd00::100' },
      ],
      neighbors: [],
    },
    endpoint: {
      addresses: ['172.16.1.100/32', 'fd00::100/128'],
      routes: [
        { prefix: '172.16.1.101/32' },
        { prefix: 'fd00::101/128' },
        { prefix: 'fd0a::/64', via: 'fd00::101' },
      ],
      neighbors: [],
    },
  },
  {
    name: 'a route of a family the peer has no address in stays a link route',
    input: { srcIpAddrs: ['10.0.0.1/32'], dstIpAddrs: ['10.0.0.2/32'], srcRoutes: [{ prefix: 'fd09::/64' }] },
    client: {
      addresses: ['10.0.0.1/32'],
      routes: [{ prefix: '10.0.0.2/32' }, { prefix: 'fd09::/64' }],
      neighbors: [],
    },
    endpoint: { addresses: ['10.0.0.2/32'], routes: [{ prefix: '10.0.0.1/32' }], neighbors: [] },
  },
  {
    name: 'a peer prefix outside our own becomes a masked link route; route prefixes are masked',
    input: {
      srcIpAddrs: ['10.1.0.1/32'],
      dstIpAddrs: ['10.0.0.2/24'],
      srcRoutes: [{ prefix: '10.7.3.4/16' }],
    },
    client: {
      addresses: ['10.1.0.1/32'],
      routes: [{ prefix: '10.0.0.0/24' }, { prefix: '10.7.0.0/16', via: '10.0.0.2' }],
      neighbors: [],
    },
    endpoint: { addresses: ['10.0.0.2/24'], routes: [{ prefix: '10.1.0.1/32' }], neighbors: [] },
  },
  {
    name: 'neighbours go to both sides, MACs normalised',
    input: { ipNeighbors: [{ ip: '172.16.1.100', hardwareAddress: '02-00-00-00-00-0A' }] },
    client: { ...none, neighbors: [{ ip: '172.16.1.100', mac: '02:00:00:00:00:0a' }] },
    endpoint: { ...none, neighbors: [{ ip: '172.16.1.100', mac: '02:00:00:00:00:0a' }] },
  },
  { name: 'empty context', input: {}, client: none, endpoint: none },
];

describe('contextPlan', () => {
  for (const c of cases) {
    it(`client side: ${c.name}`, () =>
      assert.deepEqual(contextPlan('client', IPContext.fromPartial(c.input)), c.client));
    it(`endpoint side: ${c.name}`, () =>
      assert.deepEqual(contextPlan('endpoint', IPContext.fromPartial(c.input)), c.endpoint));
  }

  it('treats a missing IPContext as empty', () => assert.deepEqual(contextPlan('client', undefined), none));

  const invalid: { name: string; input: Partial; field: RegExp }[] = [
    {
      name: 'a source address without prefix',
      input: { srcIpAddrs: ['10.0.0.1'] },
      field: /src_ip_addrs\[0\]/,
    },
    {
      name: 'a garbage destination',
      input: { dstIpAddrs: ['10.0.0.1/24', 'x; rm'] },
      field: /dst_ip_addrs\[1\]/,
    },
    {
      name: 'an empty route prefix',
      input: { srcRoutes: [{ prefix: '' }] },
      field: /src_routes\[0\]\.prefix/,
    },
    {
      name: 'a malformed next hop',
      input: { srcRoutes: [{ prefix: '10.0.0.0/8', nextHop: '10.0.0.1\n' }] },
      field: /src_routes\[0\]\.nextHop/,
    },
    {
      name: 'an IPv4 next hop for IPv6',
      input: { srcRoutes: [{ prefix: 'fd00::/8', nextHop: '10.0.0.1' }] },
      field: /src_routes\[0\]\.nextHop/,
    },
    {
      name: 'a bad neighbour MAC',
      input: { ipNeighbors: [{ ip: '10.0.0.1', hardwareAddress: 'zz' }] },
      field: /ip_neighbors\[0\]\.hardware_address/,
    },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name} as INVALID_ARGUMENT naming the field`, () => {
      assert.throws(
        () => contextPlan('client', IPContext.fromPartial(c.input)),
        (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && c.field.test(e.message),
      );
    });
  }
});
