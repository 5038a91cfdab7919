import assert from 'node:assert/strict';
import { groupOf, parseAwarenessGroups } from './index.js';

const services = (text: string) =>
  parseAwarenessGroups(text).map((g) => g.map((u) => `${u.networkService}/${u.interfaceName ?? ''}`));

describe('awarenessgroups', () => {
  describe('parseAwarenessGroups', () => {
    const good: [string, string, string[][]][] = [
      ['empty', '', []],
      ['blanks only', '  ', []],
      [
        "upstream's example",
        '[kernel://ns-1/nsm-1,kernel://ns-2/nsm-2],[kernel://ns-3/nsm-3]',
        [['ns-1/nsm-1', 'ns-2/nsm-2'], ['ns-3/nsm-3']],
      ],
      [
        'blanks around brackets and commas',
        ' [ kernel://a/nsm-1 , kernel://b ] , [kernel://c/x] ',
        [['a/nsm-1', 'b/'], ['c/x']],
      ],
      ['one group', '[kernel://a/nsm-1]', [['a/nsm-1']]],
      ['an NSURL twice in one group', '[kernel://a/n,kernel://a/n]', [['a/n', 'a/n']]],
    ];
    for (const [name, text, want] of good) {
      it(`parses ${name}`, () => assert.deepEqual(services(text), want));
    }

    it('keeps a comma inside a label value', () => {
      const [[u]] = parseAwarenessGroups('[kernel://a/nsm-1?ports=80,443]');
      assert.deepEqual(u.labels, { ports: '80,443' });
    });

    const bad: [string, string, RegExp][] = [
      ['an unclosed group', '[kernel://a/n', /unbalanced brackets: "\[" at offset 0 has no "\]"/],
      ['a stray "]"', '[kernel://a/n]]', /unbalanced brackets: "\]" at offset 14 has no "\["/],
      ['nested brackets', '[[kernel://a/n]]', /nested "\[" at offset 1/],
      ['text outside brackets', 'kernel://a/n', /want "\[" at offset 0/],
      ['groups without a comma', '[kernel://a/n][kernel://b/n]', /want "," between groups at offset 14/],
      ['a trailing comma', '[kernel://a/n],', /after the last group/],
      ['an empty group', '[kernel://a/n],[ ]', /empty group at offset 15/],
      ['an NSURL without a scheme', '[a/nsm-1]', /failed to parse NSURL "a\/nsm-1"/],
      ['an interface name too long', '[kernel://a/this-name-is-too-long]', /longer than 15/],
      [
        'an NSURL in two groups',
        '[kernel://a/n?x=1,kernel://b/n],[kernel://a/n?x=1]',
        /NSURL kernel:\/\/a\/n\?x=1 is in group 1 and group 2/,
      ],
    ];
    for (const [name, text, want] of bad) {
      it(`rejects ${name}`, () => assert.throws(() => parseAwarenessGroups(text), want));
    }
  });

  describe('groupOf', () => {
    const groups = parseAwarenessGroups(
      '[kernel://a/nsm-1,kernel://b/nsm-2?color=red],[kernel://c/nsm-3],[kernel://a/nsm-9]',
    );
    const conn = (networkService: string, interfaceName?: string, labels = {}) => ({
      mechanismType: 'KERNEL',
      networkService,
      interfaceName,
      labels,
    });

    it('matches scheme, service and interface name', () => {
      assert.equal(groupOf(groups, conn('a', 'nsm-1')), 0);
      assert.equal(groupOf(groups, conn('c', 'nsm-3', { nodeName: 'n1' })), 1);
      assert.equal(groupOf(groups, conn('a', 'nsm-9')), 2);
    });

    it('needs the NSURL labels on the connection, extra labels allowed', () => {
      assert.equal(groupOf(groups, conn('b', 'nsm-2')), undefined);
      assert.equal(groupOf(groups, conn('b', 'nsm-2', { color: 'blue' })), undefined);
      assert.equal(groupOf(groups, conn('b', 'nsm-2', { color: 'red', podName: 'p' })), 0);
    });

    it('matches nothing for another service, interface or mechanism', () => {
      assert.equal(groupOf(groups, conn('a', 'nsm-2')), undefined);
      assert.equal(groupOf(groups, conn('a')), undefined);
      assert.equal(groupOf(groups, { ...conn('a', 'nsm-1'), mechanismType: 'MEMIF' }), undefined);
      assert.equal(groupOf([], conn('a', 'nsm-1')), undefined);
    });
  });
});
