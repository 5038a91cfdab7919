import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import { isNsmError } from '../../errors/index.js';
import { type Nsurl, parseNsurl, parseNsurlList, splitNsurlList } from './nsurl.js';

const local = (type: string, name?: string): Mechanism => ({
  cls: 'LOCAL',
  type,
  parameters: name === undefined ? {} : { name },
});

describe('parseNsurl', () => {
  const cases: Array<{ name: string; input: string; want: Nsurl }> = [
    {
      name: 'kernel with interface name',
      input: 'kernel://kernel2kernel/nsm-1',
      want: {
        networkService: 'kernel2kernel',
        mechanism: local('KERNEL', 'nsm-1'),
        interfaceName: 'nsm-1',
        labels: {},
      },
    },
    {
      name: 'vfio without interface name, label value with a slash',
      input: 'vfio://second-service?sriovToken=intel/10G',
      want: {
        networkService: 'second-service',
        mechanism: local('VFIO'),
        labels: { sriovToken: 'intel/10G' },
      },
    },
    {
      name: 'memif with several labels',
      input: 'memif://my-vpp-service?A=1&B=2&C=3',
      want: {
        networkService: 'my-vpp-service',
        mechanism: local('MEMIF'),
        labels: { A: '1', B: '2', C: '3' },
      },
    },
    {
      name: 'interdomain service@domain kept whole',
      input: 'kernel://my-service@dc.example.com/ms1',
      want: {
        networkService: 'my-service@dc.example.com',
        mechanism: local('KERNEL', 'ms1'),
        interfaceName: 'ms1',
        labels: {},
      },
    },
    {
      name: 'interdomain with labels',
      input: 'kernel://autoscale-istio-proxy@my.cluster2/nsm-1?app=ratings',
      want: {
        networkService: 'autoscale-istio-proxy@my.cluster2',
        mechanism: local('KERNEL', 'nsm-1'),
        interfaceName: 'nsm-1',
        labels: { app: 'ratings' },
      },
    },
    {
      name: 'repeated keys are joined with commas',
      input: 'kernel://svc/nsm-1?color=red&color=blue&size=',
      want: {
        networkService: 'svc',
        mechanism: local('KERNEL', 'nsm-1'),
        interfaceName: 'nsm-1',
        labels: { color: 'red,blue', size: '' },
      },
    },
    {
      name: 'percent-encoding and + in labels are decoded',
      input: 'kernel://svc/nsm-1?dnsName=a%2Cb&note=hello+world',
      want: {
        networkService: 'svc',
        mechanism: local('KERNEL', 'nsm-1'),
        interfaceName: 'nsm-1',
        labels: { dnsName: 'a,b', note: 'hello world' },
      },
    },
    {
      name: 'scheme is upper-cased whatever its case',
      input: 'Kernel://svc',
      want: { networkService: 'svc', mechanism: local('KERNEL'), labels: {} },
    },
    {
      name: 'last path segment wins',
      input: 'kernel://svc/ignored/nsm-2',
      want: {
        networkService: 'svc',
        mechanism: local('KERNEL', 'nsm-2'),
        interfaceName: 'nsm-2',
        labels: {},
      },
    },
    {
      name: 'trailing slash means no interface name',
      input: 'kernel://svc/',
      want: { networkService: 'svc', mechanism: local('KERNEL'), labels: {} },
    },
    {
      name: '15-character interface name is fine',
      input: 'kernel://svc/abcdefghijklmno',
      want: {
        networkService: 'svc',
        mechanism: local('KERNEL', 'abcdefghijklmno'),
        interfaceName: 'abcdefghijklmno',
        labels: {},
      },
    },
    {
      name: 'fragment is ignored, surrounding blanks trimmed',
      input: '  kernel://svc/nsm-1?a=1#frag ',
      want: {
        networkService: 'svc',
        mechanism: local('KERNEL', 'nsm-1'),
        interfaceName: 'nsm-1',
        labels: { a: '1' },
      },
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.deepEqual(parseNsurl(input), want);
    });
  }

  const bad: Array<{ name: string; input: string; want: RegExp }> = [
    { name: 'empty', input: '', want: /: empty$/ },
    { name: 'legacy form without scheme', input: 'icmp-responder?app=icmp', want: /no mechanism scheme/ },
    { name: 'bad scheme', input: '1kernel://svc/nsm-1', want: /bad mechanism scheme "1kernel"/ },
    { name: 'empty service', input: 'kernel:///nsm-1', want: /empty network service/ },
    { name: 'empty service before @', input: 'kernel://@domain/nsm-1', want: /empty network service/ },
    { name: 'empty domain', input: 'kernel://svc@/nsm-1', want: /empty domain/ },
    { name: 'two @', input: 'kernel://a@b@c/nsm-1', want: /more than one "@"/ },
    { name: 'port', input: 'kernel://svc:5000/nsm-1', want: /ports and passwords are not allowed/ },
    {
      name: 'bad characters in service',
      input: 'kernel://my%20svc/nsm-1',
      want: /bad characters in network service "my svc"/,
    },
    {
      name: 'bad characters in domain',
      input: 'kernel://svc@dom$ain/nsm-1',
      want: /bad characters in domain/,
    },
    {
      name: 'interface name longer than 15',
      input: 'kernel://svc/abcdefghijklmnop',
      want: /interface name "abcdefghijklmnop" is longer than 15 characters/,
    },
    {
      name: 'interface name with a colon',
      input: 'kernel://svc/eth0:1',
      want: /bad characters in interface name "eth0:1"/,
    },
    {
      name: 'interface name with a space',
      input: 'kernel://svc/nsm%201',
      want: /bad characters in interface name "nsm 1"/,
    },
    { name: 'interface name "."', input: 'kernel://svc/.', want: /bad characters in interface name "."/ },
    {
      name: 'bad percent-encoding',
      input: 'kernel://svc/nsm%zz',
      want: /bad percent-encoding in interface name/,
    },
    { name: 'empty label key', input: 'kernel://svc/nsm-1?=x', want: /empty label key/ },
  ];
  for (const { name, input, want } of bad) {
    it(`rejects: ${name}`, () => {
      assert.throws(
        () => parseNsurl(input),
        (e: unknown) =>
          isNsmError(e) &&
          e.code === status.INVALID_ARGUMENT &&
          e.message.startsWith(`failed to parse NSURL "${input.trim()}"`) &&
          want.test(e.message),
      );
    });
  }
});

describe('splitNsurlList', () => {
  const cases: Array<{ name: string; input: string; want: string[] }> = [
    { name: 'empty', input: '', want: [] },
    { name: 'one', input: 'kernel://a/nsm-1', want: ['kernel://a/nsm-1'] },
    { name: 'two', input: 'kernel://a/nsm-1,memif://b', want: ['kernel://a/nsm-1', 'memif://b'] },
    {
      name: 'blanks around commas',
      input: ' kernel://a/nsm-1 , kernel://b/nsm-2 ',
      want: ['kernel://a/nsm-1', 'kernel://b/nsm-2'],
    },
    {
      name: 'empty entries and a trailing comma',
      input: 'kernel://a,,kernel://b,',
      want: ['kernel://a', 'kernel://b'],
    },
    {
      name: 'comma inside a label value stays',
      input: 'kernel://a/nsm-1?ports=80,443&x=1,kernel://b/nsm-2?y=2,3',
      want: ['kernel://a/nsm-1?ports=80,443&x=1', 'kernel://b/nsm-2?y=2,3'],
    },
    {
      name: 'garbage stays whole for parseNsurl to reject',
      input: 'icmp-responder?app=icmp',
      want: ['icmp-responder?app=icmp'],
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.deepEqual(splitNsurlList(input), want);
    });
  }
});

describe('parseNsurlList', () => {
  it('parses every entry', () => {
    const got = parseNsurlList('kernel://a/nsm-1?ports=80,443, kernel://b@dom/nsm-2');
    assert.deepEqual(
      got.map((u) => [u.networkService, u.interfaceName, u.labels]),
      [
        ['a', 'nsm-1', { ports: '80,443' }],
        ['b@dom', 'nsm-2', {}],
      ],
    );
  });

  it('names the bad entry', () => {
    assert.throws(
      () => parseNsurlList('kernel://a/nsm-1,kernel://b/way-too-long-name'),
      /failed to parse NSURL "kernel:\/\/b\/way-too-long-name": interface name/,
    );
  });
});
