import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { EXPIRES_KEY, formatRFC3339, fromMetadata, parseRFC3339, TOKEN_KEY, toMetadata } from './index.js';

const T = Date.UTC(2026, 10, 30, 10, 0, 0, 123);

function md(pairs: [string, string][]): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of pairs) m.add(k, v);
  return m;
}

describe('token metadata', () => {
  const parses = [
    { name: 'Go RFC3339Nano in UTC, 9 digits', input: '2026-11-30T10:00:00.123456789Z', want: T },
    { name: 'no fraction', input: '2026-11-30T10:00:00Z', want: T - 123 },
    { name: 'an offset (Go formats Local time so)', input: '2026-11-30T11:00:00.123+01:00', want: T },
    { name: 'a negative offset', input: '2026-11-30T05:30:00.123-04:30', want: T },
  ];
  for (const c of parses) {
    it(`parses ${c.name}`, () => assert.equal(parseRFC3339(c.input), c.want));
  }
  for (const bad of [
    '',
    'tomorrow',
    '2026-11-30 10:00:00Z',
    '2026-11-30T10:00:00',
    '2026-11-30T10:00:00.1234567890Z',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseRFC3339(bad), undefined));
  }

  it('formats as Go does (trailing fraction zeros dropped) and reads it back', () => {
    assert.equal(formatRFC3339(T), '2026-11-30T10:00:00.123Z');
    assert.equal(formatRFC3339(T - 123), '2026-11-30T10:00:00Z');
    assert.equal(formatRFC3339(T + 377), '2026-11-30T10:00:00.5Z');
    assert.equal(parseRFC3339(formatRFC3339(T)), T);
  });

  it('reads both keys of an incoming call', () => {
    const r = fromMetadata(
      md([
        [TOKEN_KEY, 'jwt'],
        [EXPIRES_KEY, '2026-11-30T10:00:00.123Z'],
      ]),
    );
    assert.deepEqual(r, { ok: true, value: { token: 'jwt', expiresMs: T } });
  });

  it('reads nothing when neither key is there', () => {
    assert.deepEqual(fromMetadata(md([['other', 'x']])), { ok: true, value: undefined });
  });

  const refusals = [
    { name: 'the token alone', input: [[TOKEN_KEY, 'jwt']], want: /nsm-client-token-expires is missing/ },
    {
      name: 'the expiry alone',
      input: [[EXPIRES_KEY, '2026-11-30T10:00:00Z']],
      want: /nsm-client-token is missing/,
    },
    {
      name: 'a bad time',
      input: [
        [TOKEN_KEY, 'jwt'],
        [EXPIRES_KEY, 'soon'],
      ],
      want: /"soon" is not an RFC 3339 time/,
    },
    {
      name: 'two tokens',
      input: [
        [TOKEN_KEY, 'a'],
        [TOKEN_KEY, 'b'],
        [EXPIRES_KEY, '2026-11-30T10:00:00Z'],
      ],
      want: /nsm-client-token: expected one value, got 2/,
    },
  ] as { name: string; input: [string, string][]; want: RegExp }[];
  for (const c of refusals) {
    it(`refuses ${c.name} with InvalidArgument`, () => {
      const r = fromMetadata(md(c.input));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.code, status.INVALID_ARGUMENT);
      assert.match(r.error.message, c.want);
    });
  }

  it('sends our segment, or nothing while it has no token', () => {
    const m = toMetadata({ name: 'a', id: '1', token: 'jwt', expires: new Date(T), metrics: {} });
    assert.deepEqual(m.get(TOKEN_KEY), ['jwt']);
    assert.deepEqual(m.get(EXPIRES_KEY), ['2026-11-30T10:00:00.123Z']);
    assert.deepEqual(
      toMetadata({ name: 'a', id: '1', token: '', expires: undefined, metrics: {} }).getMap(),
      {},
    );
    assert.deepEqual(toMetadata(undefined).getMap(), {});
  });
});
