import assert from 'node:assert/strict';
import { parseCounters } from './nft.js';
import { parseRules, renderRuleset } from './rules.js';

const GOOD = `default: deny
rules:
  - {name: ping, action: allow, proto: icmp}
  - {name: web, action: allow, proto: tcp, port: 80, source: 172.16.0.0/16}
  - {name: range, action: deny, proto: udp, port: "7000-7010", destination: "fd00::/64"}
  - {name: all-from, action: allow, source: 10.0.0.0/8, destination: 10.1.0.0/16}
`;

describe('firewall rules', () => {
  it('renders each rule with a counter and its name, the default last, replacing the table atomically', () => {
    const script = renderRuleset(parseRules(GOOD, 'rules.yaml'));
    assert.equal(
      script,
      [
        'add table inet nsm_firewall',
        'delete table inet nsm_firewall',
        'table inet nsm_firewall {',
        '  chain forward {',
        '    type filter hook forward priority filter; policy accept;',
        '    ct state established,related accept',
        '    meta l4proto icmp counter accept comment "ping"',
        '    ip saddr 172.16.0.0/16 tcp dport 80 counter accept comment "web"',
        '    ip6 daddr fd00::/64 udp dport 7000-7010 counter drop comment "range"',
        '    ip saddr 10.0.0.0/8 ip daddr 10.1.0.0/16 counter accept comment "all-from"',
        '    counter drop comment "default"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('defaults the policy to deny and the protocol to any', () => {
    const rs = parseRules('rules:\n  - {name: x, action: allow}\n', 'r.yaml');
    assert.equal(rs.default, 'deny');
    assert.equal(rs.rules[0].proto, 'any');
    assert.match(
      renderRuleset({ ...rs, default: 'allow' }),
      /counter accept comment "x"\n.*counter accept comment "default"/,
    );
  });

  const bad: { name: string; text: string; want: RegExp }[] = [
    {
      name: 'an unknown field',
      text: 'rules:\n  - {name: x, action: allow, prot: tcp}\n',
      want: /^r\.yaml:2:30: rules\[0\]\.prot: unknown field/,
    },
    {
      name: 'a bad action',
      text: 'rules:\n  - {name: x, action: permit}\n',
      want: /^r\.yaml:2:23: rules\[0\]\.action: must be one of allow, deny/,
    },
    {
      name: 'a port without tcp or udp',
      text: 'rules:\n  - {name: x, action: allow, port: 80}\n',
      want: /rules\[0\]\.port: needs proto tcp or udp/,
    },
    {
      name: 'a port out of range',
      text: 'rules:\n  - {name: x, action: allow, proto: tcp, port: 70000}\n',
      want: /rules\[0\]\.port: must be a port 1-65535/,
    },
    {
      name: 'a reversed range',
      text: 'rules:\n  - {name: x, action: allow, proto: tcp, port: "90-80"}\n',
      want: /rules\[0\]\.port/,
    },
    {
      name: 'a bad prefix',
      text: 'rules:\n  - {name: x, action: allow, source: 10.0.0/8}\n',
      want: /rules\[0\]\.source: "10\.0\.0\/8" is not a prefix/,
    },
    {
      name: 'mixed families',
      text: 'rules:\n  - {name: x, action: allow, source: 10.0.0.0/8, destination: "fd00::/8"}\n',
      want: /same address family/,
    },
    {
      name: 'a duplicate name',
      text: 'rules:\n  - {name: x, action: allow}\n  - {name: x, action: deny}\n',
      want: /^r\.yaml:3:12: rules\[1\]\.name: "x" is used by an earlier rule/,
    },
    {
      name: 'a name nft could not quote',
      text: 'rules:\n  - {name: "a b", action: allow}\n',
      want: /rules\[0\]\.name: must be/,
    },
    { name: 'a missing action', text: 'rules:\n  - {name: x}\n', want: /rules\[0\]\.action: is required/ },
    {
      name: 'a bad default',
      text: 'default: maybe\n',
      want: /^r\.yaml:1:10: default: must be one of allow, deny/,
    },
    { name: 'broken YAML', text: 'rules: [\n', want: /^r\.yaml:\d+:\d+: not valid YAML/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}, naming file, line and field`, () => {
      assert.throws(
        () => parseRules(c.text, 'r.yaml'),
        (e: Error & { code?: number }) => {
          assert.equal(e.code, 3, e.message);
          assert.match(e.message, c.want);
          return true;
        },
      );
    });
  }

  it('reads the counters of the firewall table by rule name', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: {} },
        { table: { family: 'inet', name: 'nsm_firewall' } },
        { rule: { table: 'nsm_firewall', expr: [{ match: {} }, { accept: null }] } },
        {
          rule: {
            table: 'nsm_firewall',
            comment: 'web',
            expr: [{ match: {} }, { counter: { packets: 3, bytes: 180 } }],
          },
        },
        { rule: { table: 'other', comment: 'x', expr: [{ counter: { packets: 9, bytes: 9 } }] } },
        {
          rule: { table: 'nsm_firewall', comment: 'default', expr: [{ counter: { packets: 1, bytes: 60 } }] },
        },
      ],
    });
    assert.deepEqual(parseCounters(json), [
      { rule: 'web', packets: 3, bytes: 180 },
      { rule: 'default', packets: 1, bytes: 60 },
    ]);
  });
});
