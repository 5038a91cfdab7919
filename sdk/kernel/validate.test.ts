import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import {
  checkAlias,
  checkIfName,
  checkMac,
  checkMtu,
  checkVni,
  contains,
  networkString,
  parseCidr,
  parseIp,
} from './validate.js';

function rejects(fn: () => unknown, field: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isNsmError(e), `not an NsmError: ${e}`);
    assert.equal(e.code, status.INVALID_ARGUMENT);
    assert.match(e.message, new RegExp(`invalid ${field}`));
    return true;
  });
}

describe('kernel input validation', () => {
  describe('interface names', () => {
    for (const name of ['eth0', 'nsm-1', 'a', 'abcdefghijklmno', 'veth_x.1']) {
      it(`accepts ${JSON.stringify(name)}`, () => assert.equal(checkIfName(name), name));
    }
    const bad = [
      '',
      'abcdefghijklmnop',
      'a/b',
      'a:b',
      'a b',
      'a\tb',
      'a\nlink del x',
      '"x"',
      "x'",
      'x#y',
      'x\\y',
      '.',
      '..',
      'é',
    ];
    for (const name of bad) {
      it(`rejects ${JSON.stringify(name)} naming the field`, () =>
        rejects(() => checkIfName(name, 'name'), 'name'));
    }
  });

  describe('aliases', () => {
    it('accepts an ownership mark with colons', () =>
      assert.equal(checkAlias('nsm:fwd-1:conn-7:client'), 'nsm:fwd-1:conn-7:client'));
    for (const alias of ['', 'a b', 'x\nlink del dev eth0', 'a"b', 'a#b', 'x'.repeat(256)]) {
      it(`rejects ${JSON.stringify(alias.slice(0, 20))}`, () => rejects(() => checkAlias(alias), 'alias'));
    }
  });

  describe('addresses', () => {
    const cases: { name: string; input: string; want?: string; family?: 4 | 6 }[] = [
      { name: 'IPv4 host', input: '172.16.1.101/32', want: '172.16.1.101/32', family: 4 },
      { name: 'IPv6 with compression', input: '2001:db8:0::1/64', want: '2001:db8::1/64', family: 6 },
      { name: 'leading zeroes', input: '010.0.0.1/24' },
      { name: 'no prefix', input: '10.0.0.1' },
      { name: 'prefix too long', input: '10.0.0.1/33' },
      { name: 'zone id', input: 'fe80::1%eth0/64' },
      { name: 'injected line', input: '10.0.0.1/24\nlink del dev eth0' },
      { name: 'trailing text', input: '10.0.0.1/24 dev eth0' },
      { name: 'empty', input: '' },
    ];
    for (const c of cases) {
      it(`${c.want ? 'accepts' : 'rejects'} ${c.name}`, () => {
        if (c.want === undefined)
          return rejects(() => parseCidr(c.input, 'src_ip_addrs[0]'), 'src_ip_addrs\\[0\\]');
        const p = parseCidr(c.input);
        assert.equal(`${p.ip}/${p.prefixLength}`, c.want);
        assert.equal(p.family, c.family);
      });
    }
    it('masks a prefix to its network', () => {
      assert.equal(networkString(parseCidr('10.1.2.3/16')), '10.1.0.0/16');
      assert.equal(networkString(parseCidr('2001:db8::5/64')), '2001:db8::/64');
      assert.equal(networkString(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
    });
    it('tests containment within one family only', () => {
      assert.ok(contains(parseCidr('10.0.0.1/24'), parseIp('10.0.0.200')));
      assert.ok(!contains(parseCidr('10.0.0.1/24'), parseIp('10.0.1.1')));
      assert.ok(!contains(parseCidr('::/0'), parseIp('10.0.0.1')));
    });
    it('rejects a prefix where a bare address is wanted', () =>
      rejects(() => parseIp('10.0.0.1/32', 'nextHop'), 'nextHop'));
  });

  it('normalises MAC addresses and rejects malformed ones', () => {
    assert.equal(checkMac('02-42-AC-11-00-02'), '02:42:ac:11:00:02');
    for (const m of [
      '02:42:ac:11:00',
      '02:42:ac:11:00:02:03',
      'zz:42:ac:11:00:02',
      '02:42-ac:11:00:02',
      '',
    ]) {
      rejects(() => checkMac(m, 'hardware_address'), 'hardware_address');
    }
  });

  it('bounds VNI and MTU', () => {
    assert.equal(checkVni(1), 1);
    assert.equal(checkVni(16777215), 16777215);
    for (const v of [0, 16777216, 1.5, Number.NaN]) rejects(() => checkVni(v), 'vni');
    for (const v of [67, 65536, 1500.5]) rejects(() => checkMtu(v), 'mtu');
  });
});
