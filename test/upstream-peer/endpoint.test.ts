// biome-ignore-all lint/suspicious/noExplicitAny: the peer's output is JSON, checked field by field
// Upstream's endpoint sees our tokens (issue 10, Tests): upstream's own Go SDK endpoint chain
// (`serve-endpoint` in serve.go: sdk v1.18.0 chains/endpoint) is registered through our nsmgr and
// gets our forwarder's Requests for three token lifetimes of 10 s. Upstream's updatetoken reads the
// previous hop's token from the call metadata `nsm-client-token` / `nsm-client-token-expires` and
// logs "an error during getting token from the context" when either is missing or malformed; its
// log must show no such warning, and every Request must carry an unexpired token that our forwarder
// signed (a JWT), renewed at each refresh. A last Request sent straight to the endpoint without the
// metadata shows that the warning does reach the log this test reads.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { BUILD_TIMEOUT_MS, buildPeer, exec, type PeerBinary } from './build.js';

const LIFETIME_S = 10;
/** Three token lifetimes and a bit. */
const HOLD_S = 3 * LIFETIME_S + 2;
const TOKEN_WARNING = /an error during getting token from the context/;

describe('upstream Go SDK endpoint receiving our tokens through three token lifetimes (e2e)', function () {
  this.timeout((HOLD_S + 90) * 1000);
  let built: PeerBinary | undefined;
  let sb: Sandbox | undefined;
  let node: SandboxNode;
  let nsePod: Pod;
  let clientPod: Pod;
  let endpoint: ChildProcess | undefined;
  const events: any[] = [];
  let stderr = '';
  let socket = '';

  before('build the upstream peer, start a one-node mesh with a 10 s token lifetime', async function () {
    this.timeout(BUILD_TIMEOUT_MS + 60_000);
    built = await buildPeer();
    sb = await Sandbox.create({ nodes: 1, env: { NSM_MAX_TOKEN_LIFETIME: `${LIFETIME_S}s` } });
    node = sb.node('node1');
    nsePod = await sb.addPod(node, 'up-nse');
    clientPod = await sb.addPod(node, 'client');
    const addr = `unix://${node.nsmgrSocket}`;
    const ns = await exec('ip', [
      'netns',
      'exec',
      nsePod.netns,
      built.bin,
      'register-ns',
      '--addr',
      addr,
      '--name',
      'up-svc',
    ]);
    assert.equal(ns.code, 0, ns.stderr);
    socket = join(dirname(node.nsmgrSocket), 'up-nse.sock');
    // The endpoint runs in its pod and registers its own socket (the nsmgr checks it listens there).
    endpoint = spawn('ip', [
      'netns',
      'exec',
      nsePod.netns,
      built.bin,
      'serve-endpoint',
      '--addr',
      addr,
      '--name',
      'up-nse',
      '--service',
      'up-svc',
      '--url',
      `unix://${socket}`,
      '--cidr',
      '172.16.13.0/24',
      '--timeout',
      `${HOLD_S + 60}s`,
    ]);
    endpoint.stderr!.on('data', (d: Buffer) => {
      stderr += d;
    });
    const registered = new Promise<void>((resolve, reject) => {
      endpoint!.once('close', (code) =>
        reject(new Error(`serve-endpoint exited (${code}): ${stderr.slice(-2000)}`)),
      );
      createInterface({ input: endpoint!.stdout! }).on('line', (line) => {
        const ev = JSON.parse(line);
        if (ev.registered) resolve();
        else events.push(ev);
      });
    });
    await registered;
  });

  after(async () => {
    if (endpoint && endpoint.exitCode === null) {
      const gone = new Promise((r) => endpoint!.once('close', r));
      endpoint.kill('SIGTERM');
      await gone;
    }
    await sb?.close();
    built?.remove();
  });

  it('gets every Request and Close with our token in the metadata: no warning, never expired', async () => {
    const { daemon } = await sb!.startClient(clientPod, 'kernel://up-svc/nsm-1');
    await new Promise((r) => setTimeout(r, HOLD_S * 1000));
    const closing = () => events.filter((e) => e.event === 'close').length;
    const closesBefore = closing();
    await daemon.stop(); // the nsc closes its connection
    const closedAt = Date.now();
    // Its Close reaches the endpoint (printed on a pipe we read asynchronously).
    for (let i = 0; i < 50 && closing() === closesBefore; i++) await new Promise((r) => setTimeout(r, 200));

    const warnings = stderr.split('\n').filter((l) => TOKEN_WARNING.test(l));
    assert.deepEqual(warnings, [], 'upstream endpoint warned about our token');
    const requests = events.filter((e) => e.event === 'request');
    const closes = events.filter((e) => e.event === 'close');
    // Our forwarder refreshes a few times per lifetime: at least one refresh per lifetime held.
    assert.ok(
      requests.length >= 1 + 3,
      `only ${requests.length} Requests in ${HOLD_S} s: ${JSON.stringify(events)}`,
    );
    assert.equal(events[events.length - 1].event, 'close', `ours comes last: ${JSON.stringify(events)}`);
    assert.equal(closes.length, closesBefore + 1, "the nsc's Close arrived");
    assert.equal(new Set(events.map((e) => e.id)).size, 1, 'one connection all along');
    for (const e of events) {
      assert.match(e.prevName, /^forwarder-node1$/, JSON.stringify(e));
      assert.match(
        e.prevToken,
        /^[\w-]+\.[\w-]+\.[\w-]+$/,
        `our forwarder's signed token: ${JSON.stringify(e)}`,
      );
    }
    // Each Request's expiry is in the future and within one lifetime (with 2 s of slack).
    const expiries = requests.map((e) => Date.parse(e.prevExpires));
    for (const t of expiries) {
      assert.ok(t <= Date.now() + (LIFETIME_S + 2) * 1000, `expiry too far: ${new Date(t).toISOString()}`);
    }
    assert.ok(expiries[expiries.length - 1] > expiries[0], 'the expiry is renewed on refresh');
    // Refreshed up to the end: the last Request's token still held when the nsc closed.
    assert.ok(expiries[expiries.length - 1] > closedAt, 'the refreshes went on until the Close');
    assert.equal(new Set(requests.map((e) => e.prevToken)).size > 1, true, 'a fresh token per refresh');
  });

  it('does warn when a caller sends no token metadata (the log this test reads is the right one)', async () => {
    const r = await exec('ip', [
      'netns',
      'exec',
      nsePod.netns,
      built!.bin,
      'request',
      '--addr',
      `unix://${socket}`,
      '--id',
      'no-metadata',
      '--service',
      'up-svc',
      '--netns',
      `/var/run/netns/${nsePod.netns}`,
    ]);
    // Upstream's timeout then refuses the Request too (no expiry on the previous segment): fine here.
    assert.notEqual(r.code, 2, r.stderr);
    for (let i = 0; i < 25 && !TOKEN_WARNING.test(stderr); i++)
      await new Promise((res) => setTimeout(res, 200));
    assert.match(stderr, TOKEN_WARNING);
  });
});
