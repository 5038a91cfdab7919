import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../../errors/index.js';
import { formatAddress, parseAddress, parseCidr, parsePrefix } from './ip.js';

describe('ip parsing', () => {
  const cidrs: Array<{ name: string; input: string; want: { family: 4 | 6; first: string; last: string } }> =
    [
      { name: 'IPv4 /24', input: '10.0.0.0/24', want: { family: 4, first: '10.0.0.0', last: '10.0.0.255' } },
      {
        name: 'host bits dropped',
        input: '192.168.3.4/16',
        want: { family: 4, first: '192.168.0.0', last: '192.168.255.255' },
      },
      {
        name: 'IPv4 /31',
        input: '172.16.1.100/31',
        want: { family: 4, first: '172.16.1.100', last: '172.16.1.101' },
      },
      { name: 'IPv4 /32', input: '10.1.1.1/32', want: { family: 4, first: '10.1.1.1', last: '10.1.1.1' } },
      {
        name: 'IPv6 /64',
        input: 'fe80::/64',
        want: { family: 6, first: 'fe80::', last: 'fe80::ffff:ffff:ffff:ffff' },
      },
      {
        name: 'IPv6 upper case',
        input: 'FD00::A/127',
        want: { family: 6, first: 'fd00::a', last: 'fd00::b' },
      },
      {
        name: 'IPv6 /0',
        input: '::/0',
        want: { family: 6, first: '::', last: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
      },
    ];
  for (const { name, input, want } of cidrs) {
    it(`parses CIDR: ${name}`, () => {
      const got = parseCidr(input);
      assert.deepEqual(
        {
          family: got.family,
          first: formatAddress(got.family, got.first),
          last: formatAddress(got.family, got.last),
        },
        want,
      );
    });
  }

  const bad: Array<{ name: string; input: string; want: RegExp }> = [
    { name: 'no prefix length', input: '10.0.0.1', want: /invalid CIDR "10.0.0.1": missing/ },
    { name: 'prefix too long', input: '10.0.0.0/33', want: /invalid CIDR "10.0.0.0\/33"/ },
    { name: 'IPv6 prefix too long', input: 'fe80::/129', want: /invalid CIDR "fe80::\/129"/ },
    { name: 'bad prefix length', input: '10.0.0.0/x', want: /bad prefix length "x"/ },
    { name: 'bad octet', input: '256.0.0.0/8', want: /invalid CIDR "256.0.0.0\/8"/ },
    { name: 'zone index', input: 'fe80::1%eth0/64', want: /zone index/ },
    { name: 'empty', input: '', want: /invalid CIDR ""/ },
    { name: 'garbage', input: 'not-a-cidr/8', want: /invalid CIDR "not-a-cidr\/8"/ },
  ];
  for (const { name, input, want } of bad) {
    it(`rejects CIDR: ${name}`, () => {
      assert.throws(
        () => parseCidr(input),
        (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && want.test(e.message),
      );
    });
  }

  const addresses: Array<{ name: string; input: string; want: string }> = [
    { name: 'bare IPv4', input: '10.0.0.5', want: '10.0.0.5' },
    { name: 'IPv4 with prefix', input: '10.0.0.5/24', want: '10.0.0.5' },
    { name: 'IPv6 long form', input: 'fd00:0:0:0:0:0:0:1/128', want: 'fd00::1' },
  ];
  for (const { name, input, want } of addresses) {
    it(`parses address: ${name}`, () => {
      const got = parseAddress(input);
      assert.equal(formatAddress(got.family, got.value), want);
    });
  }

  it('parses a bare address as a host prefix', () => {
    const got = parsePrefix('fd00::1');
    assert.deepEqual([got.family, got.first, got.last, got.prefixLength], [6, got.first, got.first, 128]);
  });
});
