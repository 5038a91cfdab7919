// The binary users run (package.json "bin": launch.cts starting the esbuild bundle `npm run build`
// makes, bundle.ts) against a stand-in nsmgr: every output format, a lazily loaded command, the exit
// codes and the code cache, so a part the bundle cannot load (a lazy module, a CommonJS package's
// exports, a file found beside a module) fails here and not at a user's prompt. What the commands
// print is get.test.ts's and describe.test.ts's business.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { State } from '../api/gen/networkservice/connection.js';
import { connection, nse } from '../sdk/testing/connections.js';
import { type FakeNsmgr, fakeNsmgr } from './testing.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin.nsmctl as string;

/** Runs the installed binary; resolves with its exit code and output (it never rejects). */
function nsmctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, BIN), ...args], { maxBuffer: 1 << 24 }, (e, out, err) =>
      done({ code: e ? Number(e.code) : 0, out, err }),
    );
  });
}

describe('nsmctl binary (the bundle)', function () {
  this.timeout(30_000); // new node processes on a busy machine
  let dir: string;
  let nsmgr: FakeNsmgr;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsmctl-bin-'));
    const path = {
      index: 1,
      pathSegments: ['nsc', 'nsmgr-a', 'nse-1'].map((name) => ({
        name,
        id: `${name}-id`,
        expires: new Date(Date.now() + 60_000),
      })),
    };
    nsmgr = await fakeNsmgr(join(dir, 'nsm.sock'), {
      connections: [connection({ id: 'nsmgr-a-id', networkService: 'icmp', state: State.UP, path })],
      endpoints: [nse('nse-1', { networkServiceNames: ['icmp'], url: 'tcp://10.0.0.2:5001' })],
    });
  });
  after(async () => {
    await nsmgr.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is the bundle, not the file-by-file build, with the files it finds beside itself', async () => {
    assert.equal(BIN, 'dist/nsmctl/launch.cjs');
    const bin = join(ROOT, 'dist', 'nsmctl', 'bin');
    assert.ok(existsSync(join(bin, 'nsmctl.cjs')));
    // diagnose's traffic probe (probe.ts) runs reach.js from beside the bundle.
    const reach = await new Promise<number>((done) =>
      execFile(process.execPath, [join(bin, 'reach.js')], (e) => done(e ? Number(e.code) : 0)),
    );
    assert.equal(reach, 1, 'reach.js runs (and refuses to run without a host)');
  });

  it('keeps a code cache after a run, and runs the same with it', async () => {
    const bin = join(ROOT, 'dist', 'nsmctl', 'bin');
    const caches = () => readdirSync(bin).filter((f) => f.endsWith('.v8cache'));
    for (const f of caches()) rmSync(join(bin, f));
    const first = await nsmctl('--nsmgr', nsmgr.url, 'get', 'connections');
    assert.equal(caches().length, 1, 'the first run wrote the cache');
    const second = await nsmctl('--nsmgr', nsmgr.url, 'get', 'connections');
    assert.equal(second.code, 0, second.err);
    assert.equal(second.out.replace(/in \d+s/, ''), first.out.replace(/in \d+s/, ''));
  });

  it('prints a table, a wide table, json and yaml', async () => {
    const at = ['--nsmgr', nsmgr.url, '--registry', nsmgr.url];
    const table = await nsmctl(...at, 'get', 'connections');
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^ID\s+NETWORK SERVICE[^\n]*\nnsc-id\s+icmp\s/);
    const wide = await nsmctl(...at, 'get', 'connections', '-o', 'wide');
    assert.match(wide.out, /nsc>nsmgr-a>nse-1/);
    const json = await nsmctl(...at, 'get', 'connections', '-o', 'json');
    assert.equal(JSON.parse(json.out).items[0].id, 'nsmgr-a-id');
    const yaml = await nsmctl(...at, 'get', 'endpoints', '-o', 'yaml');
    assert.equal(yaml.code, 0, yaml.err);
    assert.match(yaml.out, /^kind: NetworkServiceEndpointList\nitems:\n {2}- name: nse-1\n/);
  });

  it('loads a lazily imported command (describe)', async () => {
    const r = await nsmctl('--nsmgr', nsmgr.url, '--registry', nsmgr.url, 'describe', 'connection', 'nsc-id');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Name:\s+nsc-id\n/);
  });

  it('exits 2 on bad usage and 1 when the nsmgr does not answer', async () => {
    const usage = await nsmctl('get', 'bogus');
    assert.equal(usage.code, 2);
    assert.match(usage.err, /unknown resource "bogus"/);
    const dead = await nsmctl('--nsmgr', `unix://${join(dir, 'none.sock')}`, 'get', 'connections');
    assert.equal(dead.code, 1);
    assert.match(dead.err, /failed to monitor connections/);
  });
});
