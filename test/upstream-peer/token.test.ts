// biome-ignore-all lint/suspicious/noExplicitAny: the peer's output is protojson, checked field by field
// Upstream's token wire format, held for several lifetimes: upstream's own Go SDK client chain
// (`hold` in hold.go: sdk v1.18.0 chains/client with its refresh) sends its token and expiry only in
// the call metadata `nsm-client-token` / `nsm-client-token-expires`. Our nsmgr must take the expiry
// from there on every refresh; if it kept the first one, the client's segment would look expired
// after one lifetime, the client would refresh back to back and the nsmgr's timeout would close and
// rebuild the interface.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { links } from '../../sdk/tools/sandbox/shell.js';
import { BUILD_TIMEOUT_MS, buildPeer, type PeerBinary } from './build.js';

const LIFETIME_S = 10;
/** Three token lifetimes and a bit. */
const HOLD_S = 3 * LIFETIME_S + 2;
const POLL_MS = 250;

describe('upstream Go SDK client holding a connection through three token lifetimes (e2e)', function () {
  this.timeout((HOLD_S + 60) * 1000);
  let built: PeerBinary | undefined;
  let sb: Sandbox | undefined;
  let node: SandboxNode;
  let pod: Pod;

  before('build the upstream peer, start a one-node mesh with a 10 s token lifetime', async function () {
    this.timeout(BUILD_TIMEOUT_MS + 30_000);
    built = await buildPeer();
    sb = await Sandbox.create({ nodes: 1, env: { NSM_MAX_TOKEN_LIFETIME: `${LIFETIME_S}s` } });
    node = sb.node('node1');
    await sb.startEndpoint(await sb.addPod(node, 'nse'), {
      NSM_SERVICE_NAMES: 'svc',
      NSM_CIDR_PREFIX: '172.16.9.0/24',
    });
    pod = await sb.addPod(node, 'client');
  });

  after(async () => {
    await sb?.close();
    built?.remove();
  });

  it("refreshes at upstream's rate (0.2 of the lifetime), never rebuilds the interface", async () => {
    const id = `upstream-hold-${Date.now().toString(36)}`;
    const proc = spawn(built!.bin, [
      'hold',
      '--addr',
      `unix://${node.nsmgrSocket}`,
      '--id',
      id,
      '--service',
      'svc',
      '--netns',
      `/var/run/netns/${pod.netns}`,
      '--ifname',
      'nsm-1',
      '--lifetime',
      `${LIFETIME_S}s`,
      '--duration',
      `${HOLD_S}s`,
      '--timeout',
      `${HOLD_S + 30}s`,
    ]);
    const lines: string[] = [];
    let stderr = '';
    let closing = false;
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      lines.push(line);
      if (line === '{"closing":true}') closing = true;
    });
    const exited = new Promise<number>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('close', (code) => resolve(code ?? -1));
    });
    // Watch the interface until the peer starts closing: present once up, and always the same link.
    const seen = new Set<number>();
    let missingAfterUp = 0;
    let exitCode: number | undefined;
    exited.then((c) => {
      exitCode = c;
    });
    while (!closing && exitCode === undefined) {
      const l = (await links(pod.netns)).find((x) => x.ifname === 'nsm-1') as
        | { ifindex?: number }
        | undefined;
      if (l?.ifindex !== undefined) seen.add(l.ifindex);
      else if (seen.size > 0) missingAfterUp++;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const code = await exited;
    assert.equal(code, 0, `hold failed (exit ${code}): ${stderr.trim().split('\n').slice(-5).join('\n')}`);
    const out = JSON.parse(lines[lines.length - 1]);

    assert.equal(out.failures, 0, `failed refreshes: ${JSON.stringify(out.intervalsMs)}`);
    // Upstream's refresh runs after 0.2 x the least time left on any segment (index 0): ~2 s here,
    // so ~16 Requests in 32 s. The bug made it hundreds.
    const expected = HOLD_S / (0.2 * LIFETIME_S);
    assert.ok(
      out.requests >= expected * 0.6 && out.requests <= expected * 1.3,
      `${out.requests} Requests in ${HOLD_S} s, expected about ${expected}; intervals (ms): ${out.intervalsMs}`,
    );
    const shortest = Math.min(...out.intervalsMs);
    assert.ok(shortest >= 1_000, `a refresh came ${shortest} ms after the one before: ${out.intervalsMs}`);

    assert.equal(seen.size, 1, `nsm-1 had ${seen.size} different ifindexes: rebuilt`);
    assert.equal(missingAfterUp, 0, 'nsm-1 disappeared while held');
    // The same connection all along: every hop recognised each refresh.
    assert.deepEqual(
      out.last.path.pathSegments.map((s: any) => s.id),
      out.first.path.pathSegments.map((s: any) => s.id),
    );
    assert.deepEqual(out.last.context.ipContext.srcIpAddrs, out.first.context.ipContext.srcIpAddrs);
    // Our hops put the client's own token and its renewed expiry into its segment.
    const client = out.last.path.pathSegments[0];
    assert.match(client.token, /^upstream-peer-token-\d+$/);
    assert.ok(Date.parse(client.expires) > Date.parse(out.first.path.pathSegments[0].expires));
    assert.deepEqual(await sb!.podLinks(), [], 'closed: nothing left in the pods');
  });
});
