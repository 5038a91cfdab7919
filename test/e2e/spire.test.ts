// A real SPIRE (server + agent built from github.com/spiffe/spire, test/spire/spire.ts) issues the
// X.509-SVIDs: every daemon of a two-node sandbox, and the example endpoint and client, read theirs
// from the agent's Workload API (SPIFFE_ENDPOINT_SOCKET), serve and dial mTLS with it and sign their
// path tokens with it; a remote connection crosses the nodes with traffic both ways.
//
// The first run builds SPIRE (Go needed, 10-30 minutes on 2 cores, cached in /var/cache/nsm-ts/spire).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { BUILD_TIMEOUT_MS, buildSpire, type Spire, startSpire, TRUST_DOMAIN } from '../spire/spire.js';
import { assertTraffic, hostIP } from './helpers.js';

const WORKLOAD_ID = `spiffe://${TRUST_DOMAIN}/nsm-root`;

describe('identities from a real SPIRE (e2e)', function () {
  this.timeout(120_000);
  let dir: string;
  let spire: Spire | undefined;
  let sb: Sandbox | undefined;
  let nse: Pod;

  before('build SPIRE (first run only), start server and agent, then the mesh', async function () {
    this.timeout(BUILD_TIMEOUT_MS + 120_000);
    await buildSpire();
    dir = mkdtempSync(join(tmpdir(), 'nsm-spire-'));
    spire = await startSpire(dir);
    await spire.register(WORKLOAD_ID, 'unix:uid:0');
    sb = await Sandbox.create({ nodes: 2, env: { SPIFFE_ENDPOINT_SOCKET: spire.agentSocket } });
    nse = await sb.addPod(sb.node('node2'), 'nse-spire');
    await sb.startEndpoint(nse, { NSM_SERVICE_NAMES: 'icmp', NSM_CIDR_PREFIX: '172.16.21.0/24' });
  });

  after(async () => {
    await sb?.close();
    await spire?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives every daemon its SVID from the Workload API', () => {
    for (const d of sb!.daemons) {
      const log = readFileSync(d.logFile, 'utf8');
      assert.match(
        log,
        /"source":"workload-api","msg":"identity: mTLS on every tcp link"/,
        `${d.name}: ${log.slice(0, 400)}`,
      );
      assert.ok(log.includes(`"spiffeId":"${WORKLOAD_ID}"`), `${d.name} is ${WORKLOAD_ID}`);
    }
  });

  it('carries a remote connection (mTLS between the nodes, signed tokens checked) with traffic both ways', async () => {
    const client = await sb!.addPod(sb!.node('node1'), 'nsc-spire');
    const { connections } = await sb!.startClient(client, 'kernel://icmp/nsm-1');
    const ip = connections[0].context!.ipContext!;
    await assertTraffic(sb!, client, nse, hostIP(ip.dstIpAddrs[0]), 7201);
    await assertTraffic(sb!, nse, client, hostIP(ip.srcIpAddrs[0]), 7202);
    const tokens = connections[0].path!.pathSegments.map((s) => s.token);
    assert.ok(
      tokens.every((t) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(t)),
      `every segment carries a JWT: ${tokens.map((t) => t.slice(0, 20))}`,
    );
  });
});
