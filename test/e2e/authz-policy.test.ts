// Authorization in the sandbox with identities (issue 10, item 6): an authorization policy file on
// the nsmgrs and the registry says who may request and register what; registrations belong to the
// identity that made them. Identity A (the client nsc-a, a real nsc with its SVID) may request
// "secure", identity B (nsc-b) is refused; B can neither overwrite nor unregister A's endpoint, nor
// register a fake forwarder; after every refusal the registry and the kernel are as before. A
// changed policy file takes effect without a restart.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { eventually } from '../../sdk/testing/eventually.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { signSegmentToken } from '../../sdk/tools/token/jwt.js';
import { close, kernelMechanism, newConnection, rejectsWith, request, resetPool } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const RAW_REGISTER = join(here, 'raw-register.js');
const RAW_REGISTRY = join(here, 'raw-registry.js');

interface RegistryResult {
  op: string;
  ok: boolean;
  code?: string;
  message?: string;
  entries?: string[];
  lease?: number;
}

/** The sandbox's trust domain is `<id>.sandbox`: `*` stands for the id. */
const policy = (requesters: string[]) => `
allow:
  - spiffeID: spiffe://*.sandbox/nsmgr-*      # registers its local endpoints, forwarders and their services
    registerEndpoints: ["*"]
    registerServices: ["*"]
  - spiffeID: spiffe://*.sandbox/forwarder-*  # a remote connection reaches the second nsmgr from a forwarder
    request: ["*"]
${requesters.map((r) => `  - spiffeID: spiffe://*.sandbox/${r}\n    request: [secure]\n`).join('')}`;

describe('authorization policy and registry ownership by identity (e2e)', function () {
  this.timeout(120_000);
  let dir: string;
  let policyFile: string;
  let sb: Sandbox;
  let endpoint: Pod;
  let podB: Pod;

  /** Runs raw-registry.ts in node1's namespace as `name` (an SVID from the sandbox's CA). */
  async function asIdentity(name: string, ops: object[]): Promise<RegistryResult[]> {
    const files = await sb.issueIdentity(name);
    const env = Object.entries(files).map(([k, v]) => `${k}=${v}`);
    const out = await sh('ip', [
      'netns',
      'exec',
      sb.nodes[0].netns,
      'env',
      ...env,
      process.execPath,
      RAW_REGISTRY,
      sb.registryURL,
      JSON.stringify(ops),
    ]);
    return out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RegistryResult);
  }

  /** The registry's content, as an outsider with an SVID finds it (lease times left out). */
  async function registryContent(): Promise<string[]> {
    const [r] = await asIdentity('observer', [{ op: 'list' }]);
    assert.ok(r.ok, JSON.stringify(r));
    return r.entries!;
  }

  async function census(): Promise<string> {
    return JSON.stringify([await sb.podLinks(), await sb.nodeLinks(), await registryContent()]);
  }

  /** A request over node2's unix socket whose client segment `name` signed with an SVID of the sandbox (or none). */
  async function requestAs(name: string | undefined, id: string): Promise<Connection> {
    let token = '';
    if (name) {
      const svid = await sb.ca!.issue(sb.spiffeId(name));
      token = await signSegmentToken(
        createPrivateKey(svid.keyPem),
        { sub: sb.spiffeId(name), aud: '', expiresMs: Date.now() + 60_000, segmentId: id },
        new X509Certificate(svid.certPem),
      );
    }
    const conn = newConnection(id, 'secure', {
      path: {
        index: 0,
        pathSegments: [
          { name: name ?? 'plain', id, token, expires: new Date(Date.now() + 60_000), metrics: {} },
        ],
      },
    });
    return request(podB.node, conn, [
      kernelMechanism({ name: 'nsm-9', inodeURL: `file:///var/run/netns/${podB.netns}` }),
    ]);
  }

  async function rawRegister(
    pod: Pod,
    ops: object[],
  ): Promise<{ op: string; ok: boolean; code?: string; message?: string }[]> {
    const out = await sh('ip', [
      'netns',
      'exec',
      pod.netns,
      process.execPath,
      RAW_REGISTER,
      `unix://${pod.node.nsmgrSocket}`,
      JSON.stringify(ops),
    ]);
    return out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-authz-e2e-'));
    policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, policy(['nsc-a']));
    // A short lease: endpoints refresh every few seconds, so the test sees owners re-registering.
    sb = await Sandbox.create({
      nodes: 2,
      env: { NSM_AUTHZ_POLICY_FILE: policyFile, NSM_EXPIRE_PERIOD: '6s' },
    });
    endpoint = await sb.addPod(sb.node('node1'), 'secure-ep');
    await sb.startEndpoint(endpoint, { NSM_SERVICE_NAMES: 'secure', NSM_CIDR_PREFIX: '172.16.21.0/24' });
    podB = await sb.addPod(sb.node('node2'), 'b');
  });

  after(async () => {
    await sb?.close();
    resetPool();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enforces the policy with identities on (no "not enforced" warning)', () => {
    for (const d of [sb.registry!, ...sb.nodes.map((n) => n.nsmgr!)]) {
      const log = readFileSync(d.logFile, 'utf8');
      assert.match(log, /authorization policy loaded/, d.name);
      assert.doesNotMatch(log, /NOT ENFORCED/, d.name);
    }
  });

  it('lets identity A request the service and refuses identity B and a client without identity; nothing changes', async () => {
    const a = await sb.addPod(sb.node('node2'), 'a'); // the nsc in it is spiffe://<id>.sandbox/nsc-a
    const { connections } = await sb.startClient(a, 'kernel://secure/nsm-1');
    assert.equal(connections[0].networkServiceEndpointName, 'secure-ep');
    const before = await census();
    await rejectsWith(
      () => requestAs('nsc-b', 'b-1'),
      status.PERMISSION_DENIED,
      /failed to request network service "secure": spiffe:\/\/nsm\w+\.sandbox\/nsc-b is not allowed to by the authorization policy .*policy\.yaml/,
    );
    assert.equal(await census(), before, 'nothing changed after refusing B');
    await rejectsWith(
      () => requestAs(undefined, 'b-2'),
      status.PERMISSION_DENIED,
      /"secure": the caller has no proven SPIFFE ID/,
    );
    assert.equal(await census(), before, 'nothing changed after refusing the plain client');
  });

  it("refuses B's overwrite and unregister of A's endpoint and a fake forwarder, through an nsmgr and at the registry; the owner keeps refreshing", async () => {
    const owner = sb.spiffeId('nsmgr-node1');
    const first = await registryContent();
    assert.ok(
      first.some((l) => l.startsWith('nse secure-ep ')),
      JSON.stringify(first),
    );
    const before = await census();

    // Through node2's nsmgr (it registers as nsmgr-node2): the registry names the owner.
    const sock = join(sb.runDir, 'node2', 'b.sock');
    const [, overwrite, drop] = await rawRegister(podB, [
      { op: 'listen', path: sock },
      { op: 'register', name: 'secure-ep', url: `unix://${sock}` },
      { op: 'unregister', name: 'secure-ep', url: '' },
    ]);
    for (const r of [overwrite, drop]) {
      assert.equal(r.code, 'PERMISSION_DENIED', JSON.stringify(r));
      assert.ok(
        r.message?.includes(
          `"secure-ep" is registered by ${owner}; ${sb.spiffeId('nsmgr-node2')} may not change or unregister it`,
        ),
        r.message,
      );
    }
    assert.equal(await census(), before, 'nothing changed after the refusals through node2');

    // Straight at the registry over mTLS, as B.
    const b = sb.spiffeId('nsc-b');
    const results = await asIdentity('nsc-b', [
      { op: 'unregister-nse', name: 'secure-ep' },
      { op: 'register-nse', name: 'secure-ep', url: 'tcp://10.0.0.9:5001', services: ['secure'] },
      { op: 'register-nse', name: 'forwarder-fake', url: 'tcp://10.0.0.9:5001', services: ['forwarder'] },
      { op: 'register-ns', name: 'secure', payload: 'IP' },
      { op: 'unregister-ns', name: 'secure' },
    ]);
    const want = [
      `network service endpoint "secure-ep" is registered by ${owner}; ${b} may not change or unregister it`,
      `failed to register network service endpoint "secure-ep": ${b} is not allowed to by the authorization policy`,
      `failed to register network service endpoint "forwarder-fake": ${b} is not allowed to by the authorization policy`,
      `failed to register network service "secure": ${b} is not allowed to by the authorization policy`,
      `network service "secure" is registered by ${owner}; ${b} may not change or unregister it`,
    ];
    results.forEach((r, i) => {
      assert.equal(r.code, 'PERMISSION_DENIED', JSON.stringify(r));
      assert.ok(r.message?.includes(want[i]), `${r.op}: ${r.message}`);
    });
    assert.equal(await census(), before, 'nothing changed after the refusals at the registry');

    // The owner's refreshes still go through: the lease (6 s) is renewed past its first end.
    const leaseEnd = async () =>
      (await asIdentity('observer', [{ op: 'lease', name: 'secure-ep' }]))[0].lease!;
    const end = await leaseEnd();
    await eventually(async () => assert.ok((await leaseEnd()) > end, 'refreshed'), 15_000);
  });

  it('takes a changed policy file without a restart', async () => {
    writeFileSync(join(dir, 'next.yaml'), policy(['nsc-a', 'nsc-b']));
    renameSync(join(dir, 'next.yaml'), policyFile);
    let conn: Connection | undefined;
    await eventually(async () => {
      conn = await requestAs('nsc-b', 'b-3');
    }, 10_000);
    await close(podB.node, conn!);
  });
});
