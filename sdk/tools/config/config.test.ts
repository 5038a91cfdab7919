import assert from 'node:assert/strict';
import { ConfigError, envTable, isConfigError, loadConfig, parseNsmUrl, t } from './index.js';

interface Case {
  name: string;
  field: Parameters<typeof loadConfig>[0][string];
  value: string | undefined;
  want?: unknown;
  /** A substring of the error message when the value must be refused. */
  err?: string;
}

const meta = { env: 'NSM_X', description: 'x' } as const;

const cases: Case[] = [
  { name: 'string as given', field: t.string(meta), value: ' a b ', want: ' a b ' },
  { name: 'string unset is undefined', field: t.string(meta), value: undefined, want: undefined },
  {
    name: 'string unset takes default',
    field: t.string({ ...meta, default: 'd' }),
    value: undefined,
    want: 'd',
  },
  { name: 'empty takes default', field: t.string({ ...meta, default: 'd' }), value: '', want: 'd' },
  {
    name: 'required unset',
    field: t.string({ ...meta, required: true }),
    value: undefined,
    err: 'is required',
  },
  { name: 'int', field: t.int(meta), value: '42', want: 42 },
  { name: 'int negative', field: t.int(meta), value: '-3', want: -3 },
  { name: 'int not a number', field: t.int(meta), value: '4x', err: 'not an integer' },
  { name: 'int float', field: t.int(meta), value: '1.5', err: 'not an integer' },
  { name: 'int below min', field: t.int({ ...meta, min: 1 }), value: '0', err: 'at least 1' },
  { name: 'int above max', field: t.int({ ...meta, max: 65535 }), value: '70000', err: 'at most 65535' },
  { name: 'duration ms', field: t.duration(meta), value: '750ms', want: 750 },
  { name: 'duration s', field: t.duration(meta), value: '15s', want: 15_000 },
  { name: 'duration m', field: t.duration(meta), value: '1m', want: 60_000 },
  { name: 'duration h', field: t.duration(meta), value: '1h', want: 3_600_000 },
  { name: 'duration compound', field: t.duration(meta), value: '1m30s', want: 90_000 },
  { name: 'duration fraction', field: t.duration(meta), value: '1.5s', want: 1500 },
  { name: 'duration zero', field: t.duration(meta), value: '0', want: 0 },
  { name: 'duration default', field: t.duration({ ...meta, default: '1m' }), value: undefined, want: 60_000 },
  { name: 'duration no unit', field: t.duration(meta), value: '10', err: 'not a duration' },
  { name: 'duration garbage', field: t.duration(meta), value: 'abc', err: 'not a duration' },
  { name: 'duration below min', field: t.duration({ ...meta, min: 1 }), value: '0s', err: 'at least 1ms' },
  { name: 'duration negative', field: t.duration(meta), value: '-1s', err: 'not a duration' },
  { name: 'bool true', field: t.bool(meta), value: 'true', want: true },
  { name: 'bool TRUE', field: t.bool(meta), value: 'TRUE', want: true },
  { name: 'bool 0', field: t.bool(meta), value: '0', want: false },
  { name: 'bool bad', field: t.bool(meta), value: 'maybe', err: 'not a boolean' },
  {
    name: 'url unix',
    field: t.url(meta),
    value: 'unix:///var/lib/nsm.sock',
    want: 'unix:///var/lib/nsm.sock',
  },
  { name: 'url tcp', field: t.url(meta), value: 'tcp://10.0.0.1:5001', want: 'tcp://10.0.0.1:5001' },
  { name: 'url host:port', field: t.url(meta), value: 'registry:5002', want: 'tcp://registry:5002' },
  { name: 'url ipv6', field: t.url(meta), value: 'tcp://[::1]:5002', want: 'tcp://[::1]:5002' },
  {
    name: 'url listen any',
    field: t.url({ ...meta, listen: true }),
    value: 'tcp://:5002',
    want: 'tcp://:5002',
  },
  { name: 'url no host', field: t.url(meta), value: 'tcp://:5002', err: 'missing host' },
  { name: 'url no port', field: t.url(meta), value: 'registry', err: 'missing port' },
  { name: 'url bad port', field: t.url(meta), value: 'registry:99999', err: 'out of range' },
  { name: 'url relative unix', field: t.url(meta), value: 'unix://nsm.sock', err: 'absolute path' },
  { name: 'url http', field: t.url(meta), value: 'http://a:80', err: 'unsupported URL scheme' },
  {
    name: 'urlList',
    field: t.urlList({ ...meta, listen: true }),
    value: 'unix:///a.sock, tcp://10.1.1.1:5001',
    want: ['unix:///a.sock', 'tcp://10.1.1.1:5001'],
  },
  { name: 'urlList bad item', field: t.urlList(meta), value: 'unix:///a.sock,nope', err: 'missing port' },
  { name: 'stringList', field: t.stringList(meta), value: 'a, b,,c ', want: ['a', 'b', 'c'] },
  { name: 'labels =', field: t.labels(meta), value: 'app=nse,zone=a', want: { app: 'nse', zone: 'a' } },
  { name: 'labels :', field: t.labels(meta), value: 'app:nse, zone:a', want: { app: 'nse', zone: 'a' } },
  { name: 'labels value with :', field: t.labels(meta), value: 'url=a:b', want: { url: 'a:b' } },
  { name: 'labels bad', field: t.labels(meta), value: 'app', err: 'not key=value' },
  { name: 'labels empty key', field: t.labels(meta), value: '=v', err: 'not key=value' },
  {
    name: 'cidrList',
    field: t.cidrList(meta),
    value: '10.0.0.0/8,fd00::/64',
    want: ['10.0.0.0/8', 'fd00::/64'],
  },
  { name: 'cidrList no prefix', field: t.cidrList(meta), value: '10.0.0.1', err: 'not a CIDR' },
  { name: 'cidrList long prefix', field: t.cidrList(meta), value: '10.0.0.0/33', err: 'bad prefix length' },
  { name: 'ip v4', field: t.ip(meta), value: '192.168.1.1', want: '192.168.1.1' },
  { name: 'ip bad', field: t.ip(meta), value: '300.1.1.1', err: 'not an IP address' },
  { name: 'enum', field: t.enumOf(['info', 'debug'], meta), value: 'DEBUG', want: 'debug' },
  {
    name: 'enum bad',
    field: t.enumOf(['info', 'debug'], meta),
    value: 'loud',
    err: 'must be one of info, debug',
  },
  { name: 'bad default', field: t.int({ ...meta, default: 'x' }), value: undefined, err: 'bad default' },
];

describe('config', () => {
  describe('field types', () => {
    for (const c of cases) {
      it(c.name, () => {
        const env = c.value === undefined ? {} : { NSM_X: c.value };
        if (c.err === undefined) {
          assert.deepEqual(loadConfig({ x: c.field }, env).x, c.want);
          return;
        }
        assert.throws(
          () => loadConfig({ x: c.field }, env),
          (e: unknown) => isConfigError(e) && e.env === 'NSM_X' && e.message.includes(c.err as string),
        );
      });
    }
  });

  it('names the variable, the problem and the value in one line', () => {
    const schema = { period: t.duration({ env: 'NSM_EXPIRE_PERIOD', description: 'p', default: '1m' }) };
    assert.throws(
      () => loadConfig(schema, { NSM_EXPIRE_PERIOD: 'abc' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message === 'NSM_EXPIRE_PERIOD: not a duration (use e.g. 750ms, 15s, 1m, 1h) (got "abc")',
    );
  });

  it('types the result from the schema', () => {
    const schema = {
      name: t.string({ env: 'NSM_NAME', description: 'n', default: 'registry' }),
      token: t.string({ env: 'NSM_TOKEN', description: 't' }),
      port: t.int({ env: 'NSM_PORT', description: 'p', required: true }),
    };
    const c = loadConfig(schema, { NSM_PORT: '1' });
    const name: string = c.name;
    const token: string | undefined = c.token;
    const port: number = c.port;
    assert.deepEqual({ name, token, port }, { name: 'registry', token: undefined, port: 1 });
  });

  it('renders the env table', () => {
    const table = envTable({
      a: t.duration({ env: 'NSM_A', description: 'how long | really', default: '1m' }),
      b: t.string({ env: 'NSM_B', description: 'needed', required: true }),
    });
    assert.equal(
      table,
      [
        '| Variable | Default    | Description        |',
        '| -------- | ---------- | ------------------ |',
        '| `NSM_A`  | `1m`       | how long \\| really |',
        '| `NSM_B`  | (required) | needed             |',
      ].join('\n'),
    );
  });

  it('parses URLs into parts', () => {
    assert.deepEqual(parseNsmUrl('tcp://[fd00::1]:5001'), {
      ok: true,
      url: { scheme: 'tcp', host: 'fd00::1', port: 5001 },
    });
    assert.deepEqual(parseNsmUrl('unix:///x/y.sock'), {
      ok: true,
      url: { scheme: 'unix', path: '/x/y.sock' },
    });
    assert.equal(parseNsmUrl('a b:1').ok, false);
  });
});
