import assert from 'node:assert/strict';
import {
  describeTypes,
  generateInterfaceName,
  LINUX_IF_MAX_LENGTH,
  mechanism,
  validateInterfaceName,
} from './common.js';

describe('mechanisms common', () => {
  describe('validateInterfaceName', () => {
    const cases: { name: string; input: string; want?: RegExp }[] = [
      { name: 'accepts an empty name (one is generated)', input: '' },
      { name: 'accepts letters, digits, "_", "." and "-"', input: 'nsm_1.a-B' },
      { name: 'accepts exactly 15 characters', input: 'a'.repeat(15) },
      {
        name: 'refuses 16 characters',
        input: 'a'.repeat(16),
        want: /is 16 characters long; Linux interface names have at most 15/,
      },
      { name: 'refuses a slash', input: 'a/b', want: /may only contain letters, digits/ },
      { name: 'refuses a space', input: 'a b', want: /may only contain/ },
      { name: 'refuses a colon (alias syntax)', input: 'eth0:1', want: /may only contain/ },
      { name: 'refuses a newline', input: 'a\nb', want: /may only contain/ },
      { name: 'refuses non-ASCII letters', input: 'nsm-é', want: /may only contain/ },
      { name: 'refuses "."', input: '.', want: /is not a valid interface name/ },
      { name: 'refuses ".."', input: '..', want: /is not a valid interface name/ },
      {
        name: 'refuses "all" (an iproute2 keyword)',
        input: 'all',
        want: /"all" is not a valid interface name/,
      },
      { name: 'refuses "default"', input: 'default', want: /"default" is not a valid interface name/ },
    ];
    for (const c of cases) {
      it(c.name, () => {
        if (!c.want) {
          assert.doesNotThrow(() => validateInterfaceName(c.input, 'name'));
          return;
        }
        assert.throws(
          () => validateInterfaceName(c.input, 'interface name'),
          (e: Error & { code?: number }) => {
            assert.equal(e.code, 3);
            assert.match(e.message, /^interface name "/);
            assert.match(e.message, c.want!);
            return true;
          },
        );
      });
    }
  });

  describe('generateInterfaceName', () => {
    const cases: { name: string; service: string; prefix: string }[] = [
      { name: 'uses a short service name as the prefix', service: 'icmp', prefix: 'icmp' },
      { name: 'cuts the service name to 10 characters', service: 'my-networkservice', prefix: 'my-network' },
      { name: 'drops characters an interface name may not have', service: 'a/b c:d', prefix: 'abcd' },
      { name: 'uses "nsm" when nothing is left', service: '///', prefix: 'nsm' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const name = generateInterfaceName(c.service);
        assert.match(name, new RegExp(`^${c.prefix.replace(/[.-]/g, '\\$&')}-[a-z0-9]{4}$`));
        assert.ok(name.length <= LINUX_IF_MAX_LENGTH);
        assert.doesNotThrow(() => validateInterfaceName(name, 'generated'));
      });
    }

    it('gives different names for the same service', () => {
      const names = new Set(Array.from({ length: 20 }, () => generateInterfaceName('icmp')));
      assert.ok(names.size > 15, `only ${names.size} distinct names`);
    });
  });

  it('describes mechanism types for error messages', () => {
    assert.equal(describeTypes([]), 'none');
    assert.equal(describeTypes([mechanism('LOCAL', 'KERNEL'), mechanism('', '')]), 'LOCAL/KERNEL, ?/?');
  });
});
