import assert from 'node:assert/strict';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { connection } from '../testing/connections.js';
import { MAX_LIST_ENTRIES, MAX_MAP_ENTRIES, MAX_STRING_LENGTH, validateConnection } from './validate.js';

type Patch = Parameters<typeof Connection.fromPartial>[0];

const ipContext = (patch: Record<string, unknown>) => ({ ipContext: patch });
const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

describe('grpc validateConnection', () => {
  const valid: { name: string; patch: Patch }[] = [
    { name: 'an empty connection', patch: {} },
    {
      name: 'a typical connection',
      patch: {
        id: 'abc',
        networkService: 'icmp',
        labels: { app: 'x' },
        mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1' } },
        context: ipContext({ srcIpAddrs: ['10.0.0.1/32'], srcRoutes: [{ prefix: '10.0.0.2/32' }] }),
        path: {
          index: 1,
          pathSegments: [
            { name: 'a', id: '1' },
            { name: 'b', id: '2' },
          ],
        },
      },
    },
    { name: 'a string of exactly the limit', patch: { networkService: 'x'.repeat(MAX_STRING_LENGTH) } },
    { name: 'a map of exactly the limit', patch: { labels: many(MAX_MAP_ENTRIES) } },
    { name: 'a path without segments at index 0', patch: { path: { index: 0, pathSegments: [] } } },
    { name: 'unicode text', patch: { labels: { ключ: 'значение' } } },
  ];
  for (const c of valid) {
    it(`accepts ${c.name}`, () => {
      assert.doesNotThrow(() => validateConnection(connection(c.patch), 'request.connection'));
    });
  }

  const invalid: { name: string; patch: Patch; want: RegExp }[] = [
    {
      name: 'an oversized id',
      patch: { id: 'x'.repeat(MAX_STRING_LENGTH + 1) },
      want: /^request\.connection\.id is 1025 characters long; the limit is 1024$/,
    },
    {
      name: 'a control character in the service',
      patch: { networkService: 'icmp\n' },
      want: /network_service contains control characters/,
    },
    {
      name: 'DEL in the endpoint name',
      patch: { networkServiceEndpointName: 'a\u007f' },
      want: /network_service_endpoint_name contains control/,
    },
    { name: 'NUL in the payload', patch: { payload: 'IP\u0000' }, want: /payload contains control/ },
    {
      name: 'too many labels',
      patch: { labels: many(MAX_MAP_ENTRIES + 1) },
      want: /labels has 257 entries; the limit is 256/,
    },
    {
      name: 'an oversized label key',
      patch: { labels: { ['k'.repeat(1025)]: 'v' } },
      want: /labels key "k{40}" is 1025 characters/,
    },
    {
      name: 'a control character in a label value',
      patch: { labels: { app: 'a\tb' } },
      want: /labels\["app"\] contains control/,
    },
    {
      name: 'a control character in a mechanism parameter',
      patch: { mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'a\nb' } } },
      want: /mechanism\.parameters\["name"\] contains control/,
    },
    {
      name: 'too many mechanism parameters',
      patch: { mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: many(MAX_MAP_ENTRIES + 1) } },
      want: /mechanism\.parameters has 257 entries/,
    },
    {
      name: 'an oversized mechanism type',
      patch: { mechanism: { type: 'x'.repeat(2000) } },
      want: /mechanism\.type is 2000 characters/,
    },
    {
      name: 'too many source addresses',
      patch: { context: ipContext({ srcIpAddrs: Array(MAX_LIST_ENTRIES + 1).fill('10.0.0.1/32') }) },
      want: /src_ip_addrs has 257 entries/,
    },
    {
      name: 'a control character in an address',
      patch: { context: ipContext({ dstIpAddrs: ['10.0.0.1/32\n'] }) },
      want: /dst_ip_addrs\[0\] contains control/,
    },
    {
      name: 'an oversized excluded prefix',
      patch: { context: ipContext({ excludedPrefixes: ['x'.repeat(1025)] }) },
      want: /excluded_prefixes\[0\] is 1025 characters/,
    },
    {
      name: 'too many routes',
      patch: {
        context: ipContext({ dstRoutes: Array(MAX_LIST_ENTRIES + 1).fill({ prefix: '10.0.0.0/24' }) }),
      },
      want: /dst_routes is too long/,
    },
    {
      name: 'a control character in a route next hop',
      patch: { context: ipContext({ srcRoutes: [{ prefix: '10.0.0.0/24', nextHop: '10.0.0.1\r' }] }) },
      want: /src_routes\[0\]\.nextHop contains control/,
    },
    {
      name: 'too many path segments',
      patch: {
        path: {
          index: 0,
          pathSegments: Array.from({ length: 65 }, (_, i) => ({ name: `n${i}`, id: `${i}` })),
        },
      },
      want: /path has 65 segments; the limit is 64/,
    },
    {
      name: 'a control character in a segment name',
      patch: { path: { index: 0, pathSegments: [{ name: 'a\nb', id: '1' }] } },
      want: /path_segments\[0\]\.name contains control/,
    },
    {
      name: 'an oversized token',
      patch: { path: { index: 0, pathSegments: [{ name: 'a', id: '1', token: 't'.repeat(8193) }] } },
      want: /path_segments\[0\]\.token is too long/,
    },
    {
      name: 'a path index past the last segment',
      patch: {
        path: {
          index: 2,
          pathSegments: [
            { name: 'a', id: '1' },
            { name: 'b', id: '2' },
          ],
        },
      },
      want: /path\.index 2 is out of range \(2 segments\)/,
    },
    {
      name: 'a path index on an empty path',
      patch: { path: { index: 1, pathSegments: [] } },
      want: /path\.index 1 is out of range \(0 segments\)/,
    },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name}`, () => {
      assert.throws(
        () => validateConnection(connection(c.patch), 'request.connection'),
        (e: Error & { code?: number }) => {
          assert.equal(e.code, 3);
          assert.match(e.message, c.want);
          assert.match(e.message, /^request\.connection\./, 'names the field');
          return true;
        },
      );
    });
  }
});
