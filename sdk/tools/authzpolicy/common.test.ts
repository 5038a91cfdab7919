import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../../errors/index.js';
import { type Action, globToRegExp, parsePolicy } from './common.js';

const POLICY = `
allow:
  - spiffeID: spiffe://example.org/ns/*/sa/client
    request: [icmp-responder]
  - spiffeID: spiffe://example.org/forwarder-*
    request: ["*"]
    registerEndpoints: [forwarder-*]
    registerServices: [forwarder]
  - spiffeID: spiffe://example.org/nsmgr/**
    registerEndpoints: ["*"]
    registerServices: [icmp-responder, "vl3-*"]
`;

const matchCases: { name: string; id: string; action: Action; target: string; want: boolean }[] = [
  {
    name: 'glob in one path segment',
    id: 'spiffe://example.org/ns/a/sa/client',
    action: 'request',
    target: 'icmp-responder',
    want: true,
  },
  {
    name: 'other service',
    id: 'spiffe://example.org/ns/a/sa/client',
    action: 'request',
    target: 'secure',
    want: false,
  },
  {
    name: '* does not cross /',
    id: 'spiffe://example.org/ns/a/b/sa/client',
    action: 'request',
    target: 'icmp-responder',
    want: false,
  },
  {
    name: 'other trust domain',
    id: 'spiffe://evil.org/ns/a/sa/client',
    action: 'request',
    target: 'icmp-responder',
    want: false,
  },
  {
    name: 'granted request only, not register',
    id: 'spiffe://example.org/ns/a/sa/client',
    action: 'registerEndpoints',
    target: 'x',
    want: false,
  },
  {
    name: '"*" as a service',
    id: 'spiffe://example.org/forwarder-node1',
    action: 'request',
    target: 'anything',
    want: true,
  },
  {
    name: 'forwarder service',
    id: 'spiffe://example.org/forwarder-node1',
    action: 'registerServices',
    target: 'forwarder',
    want: true,
  },
  {
    name: 'forwarder service for a client',
    id: 'spiffe://example.org/ns/a/sa/client',
    action: 'registerServices',
    target: 'forwarder',
    want: false,
  },
  {
    name: '** crosses /',
    id: 'spiffe://example.org/nsmgr/node/1',
    action: 'registerEndpoints',
    target: 'nse-1',
    want: true,
  },
  {
    name: 'glob in a service name',
    id: 'spiffe://example.org/nsmgr/n1',
    action: 'registerServices',
    target: 'vl3-a',
    want: true,
  },
  {
    name: 'dots are literal',
    id: 'spiffe://exampleXorg/nsmgr/n1',
    action: 'registerServices',
    target: 'vl3-a',
    want: false,
  },
];

const badCases: { name: string; input: string; err: RegExp }[] = [
  { name: 'not YAML', input: 'allow: [\n', err: /^p\.yaml:\d+: not YAML: / },
  { name: 'top level a list', input: '- a\n', err: /^p\.yaml:1: \(top level\): want a mapping/ },
  { name: 'unknown top-level field', input: 'allow: []\ndeny: []\n', err: /^p\.yaml:2: deny: unknown field/ },
  { name: 'allow not a list', input: 'allow: {}\n', err: /^p\.yaml:1: allow: must be a list/ },
  { name: 'rule not a mapping', input: 'allow:\n  - x\n', err: /^p\.yaml:2: allow\[0\]: must be a mapping/ },
  {
    name: 'missing spiffeID',
    input: 'allow:\n  - request: [a]\n',
    err: /^p\.yaml:2: allow\[0\]\.spiffeID: required/,
  },
  {
    name: 'spiffeID not spiffe://',
    input: 'allow:\n  - spiffeID: x\n',
    err: /^p\.yaml:2: allow\[0\]\.spiffeID: "x" must start with spiffe:\/\//,
  },
  {
    name: 'a misspelt field, on its line',
    input: 'allow:\n  - spiffeID: spiffe://a/b\n    requests: [a]\n',
    err: /^p\.yaml:3: allow\[0\]\.requests: unknown field/,
  },
  {
    name: 'a list item that is not a string',
    input: 'allow:\n  - spiffeID: spiffe://a/b\n    request:\n      - a\n      - {x: 1}\n',
    err: /^p\.yaml:5: allow\[0\]\.request\[1\]: must be a non-empty string/,
  },
  {
    name: 'a list that is a string',
    input: 'allow:\n  - spiffeID: spiffe://a/b\n    request: a\n',
    err: /^p\.yaml:3: allow\[0\]\.request: must be a list/,
  },
];

describe('authzpolicy common', () => {
  describe('matching', () => {
    const policy = parsePolicy(POLICY, 'p.yaml');
    for (const c of matchCases) {
      it(`${c.name}: ${c.want ? 'allowed' : 'denied'}`, () => {
        assert.equal(policy.allows(c.id, c.action, c.target), c.want);
      });
    }
  });

  describe('parsing errors name file, line and field, in one line', () => {
    for (const c of badCases) {
      it(c.name, () => {
        assert.throws(
          () => parsePolicy(c.input, 'p.yaml'),
          (e: unknown) => {
            assert.ok(isNsmError(e) && e.code === status.INVALID_ARGUMENT, String(e));
            assert.match(e.message, c.err);
            assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
            return true;
          },
        );
      });
    }
  });

  it('reads an empty file, or an empty allow list, as a policy that allows nothing', () => {
    for (const text of ['', 'allow:\n', 'allow: []\n']) {
      const p = parsePolicy(text, 'p.yaml');
      assert.equal(p.rules.length, 0);
      assert.equal(p.allows('spiffe://a/b', 'request', 'x'), false);
    }
  });

  it('turns globs into anchored expressions with the other characters literal', () => {
    assert.equal(globToRegExp('a.b*').source, '^a\\.b[^/]*$');
    assert.ok(globToRegExp('(x)').test('(x)'));
    assert.ok(!globToRegExp('ab').test('xaby'));
  });
});
