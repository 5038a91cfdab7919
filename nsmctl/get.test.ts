import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { State } from '../api/gen/networkservice/connection.js';
import { connection, ns, nse } from '../sdk/testing/connections.js';
import { run } from './main.js';
import { type FakeNsmgr, fakeNsmgr } from './testing.js';

/** A connection as the nsmgr at `index` on the path client > nsmgr > forwarder > endpoint holds it. */
function held(client: string, state = State.UP) {
  const names = [client, 'nsmgr-a', 'fwd-a', 'nse-1'];
  return connection({
    id: `${client}-nsmgr`,
    networkService: 'icmp',
    networkServiceEndpointName: 'nse-1',
    mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1' } },
    context: { ipContext: { srcIpAddrs: ['172.16.0.1/32'], dstIpAddrs: ['172.16.0.0/32'] } },
    state,
    path: {
      index: 1,
      pathSegments: names.map((name, i) => ({
        name,
        id: i === 0 ? `${client}-0` : `${client}-${name}`,
        expires: new Date(Date.now() + 60_000),
      })),
    },
  });
}

async function nsmctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(
    args,
    (s) => {
      out += s;
    },
    (s) => {
      err += s;
    },
  );
  return { code, out, err };
}

describe('nsmctl get', () => {
  let dir: string;
  let nsmgr: FakeNsmgr;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsmctl-get-'));
    nsmgr = await fakeNsmgr(join(dir, 'nsm.sock'), {
      connections: [held('nsc-b', State.DOWN), held('nsc-a')],
      endpoints: [
        nse('nse-1', { networkServiceNames: ['icmp'], url: 'tcp://10.0.0.2:5001' }),
        nse('fwd-a', { networkServiceNames: ['forwarder'], url: 'tcp://10.0.0.2:5001' }),
      ],
      services: [ns('icmp', { payload: 'ETHERNET' })],
    });
  });
  afterEach(async () => {
    await nsmgr.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the connections an nsmgr holds as an aligned table, by the client id', async () => {
    const r = await nsmctl('--nsmgr', nsmgr.url, 'get', 'connections');
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(
      lines[0],
      /^ID\s{3,}NETWORK SERVICE\s{3}ENDPOINT\s{3}STATE\s{3}MECHANISM\s{3}HOPS\s{3}EXPIRES$/,
    );
    assert.match(lines[1], /^nsc-a-0\s+icmp\s+nse-1\s+UP\s+KERNEL\s+4\s+in \d+s$/);
    assert.match(lines[2], /^nsc-b-0\s+icmp\s+nse-1\s+DOWN\s+KERNEL\s+4\s+in /);
    // Columns line up: every row's STATE starts where the header's does.
    const at = lines[0].indexOf('STATE');
    assert.ok(lines.slice(1).every((l) => /^(UP|DOWN)/.test(l.slice(at))));
  });

  it('adds addresses and the path with -o wide', async () => {
    const r = await nsmctl('--nsmgr', nsmgr.url, 'get', 'conn', '-o', 'wide');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out.split('\n')[1], /172\.16\.0\.1\/32\s+172\.16\.0\.0\/32\s+nsc-a>nsmgr-a>fwd-a>nse-1$/);
  });

  it('prints the API objects with -o json and -o yaml', async () => {
    const j = JSON.parse((await nsmctl('--nsmgr', nsmgr.url, 'get', 'connections', '-o', 'json')).out);
    assert.equal(j.kind, 'ConnectionList');
    assert.deepEqual(
      j.items.map((c: { id: string; state?: string }) => [c.id, c.state ?? 'UP']),
      [
        ['nsc-a-nsmgr', 'UP'],
        ['nsc-b-nsmgr', 'DOWN'],
      ],
    );
    const y = await nsmctl('--nsmgr', nsmgr.url, 'get', 'endpoints', '-o', 'yaml');
    assert.match(y.out, /^kind: NetworkServiceEndpointList\nitems:\n {2}- name: nse-1\n/);
  });

  it('splits the registry into endpoints and forwarders, and counts endpoints per service', async () => {
    const e = await nsmctl('--nsmgr', nsmgr.url, 'get', 'endpoints');
    assert.deepEqual(
      e.out
        .split('\n')
        .slice(1, -1)
        .map((l) => l.split(/\s+/)[0]),
      ['nse-1'],
    );
    const f = await nsmctl('--nsmgr', nsmgr.url, 'get', 'forwarders');
    assert.deepEqual(
      f.out
        .split('\n')
        .slice(1, -1)
        .map((l) => l.split(/\s+/)[0]),
      ['fwd-a'],
    );
    const s = await nsmctl('--nsmgr', nsmgr.url, 'get', 'services');
    assert.match(s.out.split('\n')[1], /^icmp\s+ETHERNET\s+1$/);
    const n = await nsmctl('--nsmgr', nsmgr.url, 'get', 'nsmgrs');
    assert.match(n.out.split('\n')[1], /^nsmgr-a\s+unix:\/\/\S+\s+Ready\s+2\s/);
    assert.match(
      n.out.split('\n')[2],
      /^<none>\s+tcp:\/\/10\.0\.0\.2:5001\s+Registered\s+<none>\s+1\s+fwd-a$/,
    );
  });

  it('exits 1 and names the nsmgr that does not answer, still printing what the others hold', async () => {
    const dead = `unix://${join(dir, 'nobody.sock')}`;
    const r = await nsmctl('--nsmgr', `${nsmgr.url},${dead}`, '--timeout', '1000', 'get', 'connections');
    assert.equal(r.code, 1);
    assert.equal(r.out.trimEnd().split('\n').length, 3);
    assert.match(r.err, new RegExp(`error: failed to monitor connections at ${dead}`));
  });

  it('prints a long table whole through a pipe (the binary waits for stdout before it exits)', async function () {
    this.timeout(20_000); // a node process of its own, on a busy machine
    const many = await fakeNsmgr(join(dir, 'many.sock'), {
      connections: Array.from({ length: 1500 }, (_, i) => held(`nsc-${i}`)),
    });
    try {
      const cli = join(dirname(fileURLToPath(import.meta.url)), 'cli.js');
      // Through a real pipe to another process (`| cat`, as `| less` or `| grep` would be): Node
      // writes to it asynchronously, so exiting at once used to cut the table at the pipe's 64 KiB.
      const { stdout } = await promisify(execFile)(
        'sh',
        ['-c', `"${process.execPath}" "${cli}" --nsmgr "${many.url}" get connections | cat`],
        { maxBuffer: 1 << 24 },
      );
      assert.equal(stdout.trimEnd().split('\n').length, 1501);
      // A reader that stops early (`| head`) ends it quietly, not with an EPIPE stack trace.
      const head = await promisify(execFile)('sh', [
        '-c',
        `"${process.execPath}" "${cli}" --nsmgr "${many.url}" get connections | head -1`,
      ]);
      assert.match(head.stdout, /^ID\s/);
      assert.equal(head.stderr, '');
    } finally {
      await many.close();
    }
  });

  it("lists a node whose connections outgrow gRPC's default 4 MiB message (signed tokens)", async () => {
    // A signed path token carries the signer's certificate: about 1.1 KiB, one per hop.
    const token = 'x'.repeat(1100);
    const big = await fakeNsmgr(join(dir, 'big.sock'), {
      connections: Array.from({ length: 1000 }, (_, i) => {
        const c = held(`nsc-${i}`);
        for (const s of c.path?.pathSegments ?? []) s.token = token;
        return c;
      }),
    });
    try {
      const r = await nsmctl('--nsmgr', big.url, 'get', 'connections');
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trimEnd().split('\n').length, 1001);
    } finally {
      await big.close();
    }
  });

  it('exits 2 on bad usage with a message naming what is wrong', async () => {
    const bad = await nsmctl('--nsmgr', nsmgr.url, 'get', 'pods');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown resource "pods"/);
    const fmt = await nsmctl('--nsmgr', nsmgr.url, 'get', 'connections', '-o', 'xml');
    assert.equal(fmt.code, 2);
    assert.match(fmt.err, /-o: unknown output format "xml"/);
    const url = await nsmctl('--nsmgr', 'localhost:5001', 'get', 'connections');
    assert.equal(url.code, 2);
    assert.match(url.err, /--nsmgr: "localhost:5001" is not a URL/);
    assert.equal((await nsmctl('get')).code, 2);
  });
});
