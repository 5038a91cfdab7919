// The registry with NSM_REGISTRY_BACKEND=k8s on a real kube-apiserver (control plane only): the same gRPC
// API tests as the memory backend, plus what only a shared store shows: two registries see each other's
// registrations, kubectl sees them, a registry that died leaves objects that another one deletes once
// they expire, and names that are not object names still round-trip.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NetworkService,
  NetworkServiceEndpoint,
  type NetworkServiceEndpointResponse,
} from '../../api/gen/registry/registry.js';
import { type Registry, startRegistry } from '../../registry/server.js';
import { describeRegistryApi } from '../../registry/testing.js';
import { background } from '../../sdk/core/context.js';
import {
  type NseRegistryClient,
  type NsRegistryClient,
  newNseRegistryClient,
  newNsRegistryClient,
} from '../../sdk/grpc/registry-client.js';
import * as k8sStore from '../../sdk/registry/k8s/index.js';
import { objectName } from '../../sdk/registry/k8s/index.js';
import { describeStore } from '../../sdk/registry/store-suite.js';
import { collect, eventually } from '../../sdk/registry/testing.js';
import { k8sTestsEnabled, REPO } from './cluster.js';
import { startTestEnv, type TestEnv } from './testenv.js';

const ctx = background();
const nse = (name: string, extra: Parameters<typeof NetworkServiceEndpoint.fromPartial>[0] = {}) =>
  NetworkServiceEndpoint.fromPartial({
    name,
    url: `tcp://10.0.0.1:5001`,
    networkServiceNames: ['icmp'],
    ...extra,
  });

/**
 * Namespaces this file created, deleted at its end (a reused testenv outlives the run). Without a
 * controller-manager they stay Terminating with their objects, which no later run looks at.
 */
const created: string[] = [];

async function freshNamespace(env: TestEnv): Promise<string> {
  const ns = `nsm-reg-${randomBytes(4).toString('hex')}`;
  await env.k(['create', 'namespace', ns]);
  created.push(ns);
  return ns;
}

describe('registry on the Kubernetes API', () => {
  let env: TestEnv;
  before(async function () {
    if (!k8sTestsEnabled()) this.skip();
    this.timeout(120_000);
    env = await startTestEnv();
  });
  after(async () => {
    if (created.length > 0) await env.k(['delete', 'namespace', '--wait=false', ...created.splice(0)]);
  });

  // the store contract of the memory backend (sdk/registry/store-suite.ts), each case in a fresh namespace
  describeStore('k8s', async () => {
    const opts = { namespace: await freshNamespace(env), kubeconfig: env.kubeconfig };
    const nse = k8sStore.newNseServer(opts);
    const ns = k8sStore.newNsServer(opts);
    await Promise.all([nse.synced, ns.synced]);
    return { nse, ns, close: async () => void (await Promise.all([nse.close(), ns.close()])) };
  });

  describeRegistryApi('k8s', async () => ({
    backend: 'k8s',
    k8sNamespace: await freshNamespace(env),
    k8s: { kubeconfig: env.kubeconfig },
  }));

  describe('shared store', () => {
    let dir: string;
    let ns: string;
    const open: { close(): Promise<void> }[] = [];
    const start = async (name: string, k8s: Record<string, unknown> = {}, expirePeriodMs?: number) => {
      const r = await startRegistry({
        name,
        expirePeriodMs,
        listenOn: `unix://${join(dir, `${name}.sock`)}`,
        backend: 'k8s',
        k8sNamespace: ns,
        k8s: { kubeconfig: env.kubeconfig, ...k8s },
      });
      open.push(r);
      return r;
    };
    const clients = (r: Registry): [NseRegistryClient, NsRegistryClient] => {
      const c: [NseRegistryClient, NsRegistryClient] = [
        newNseRegistryClient(r.url),
        newNsRegistryClient(r.url),
      ];
      open.unshift(...c);
      return c;
    };

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nsm-k8sreg-'));
      ns = await freshNamespace(env);
    });
    afterEach(async () => {
      for (const c of open.splice(0)) await c.close();
      rmSync(dir, { recursive: true, force: true });
      await env.k(['delete', 'namespace', ns, '--wait=false']);
      created.splice(created.indexOf(ns), 1);
    });

    it('two registries see each other, and kubectl sees what they registered', async () => {
      const [a, aNs] = clients(await start('reg-a'));
      const [b] = clients(await start('reg-b'));
      const w = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
        b.find(
          c,
          { networkServiceEndpoint: nse('', { url: '', networkServiceNames: ['icmp'] }), watch: true },
          sink,
        ),
      );
      await a.register(ctx, nse('nse-a', { networkServiceLabels: { icmp: { labels: { app: 'a' } } } }));
      await aNs.register(ctx, NetworkService.fromPartial({ name: 'icmp', payload: 'ETHERNET' }));
      await eventually(() =>
        assert.deepEqual(
          w.items.map((r) => r.networkServiceEndpoint?.name),
          ['nse-a'],
        ),
      );
      assert.deepEqual(w.items[0].networkServiceEndpoint?.networkServiceLabels, {
        icmp: { labels: { app: 'a' } },
      });

      const got = await env.k(['-n', ns, 'get', 'nse,netsvc', '-o', 'json']);
      const items = (
        JSON.parse(got) as {
          items: { kind: string; metadata: { name: string }; spec: Record<string, unknown> }[];
        }
      ).items;
      assert.deepEqual(items.map((i) => `${i.kind}/${i.metadata.name}`).sort(), [
        'NetworkService/icmp',
        'NetworkServiceEndpoint/nse-a',
      ]);
      const spec = items.find((i) => i.kind === 'NetworkServiceEndpoint')?.spec ?? {};
      assert.equal(spec.url, 'tcp://10.0.0.1:5001');
      assert.deepEqual(spec.network_service_names, ['icmp']);
      assert.ok(Number((spec.expiration_time as { seconds: number }).seconds) > Date.now() / 1000);
      const table = await env.k(['-n', ns, 'get', 'nse']);
      assert.match(table, /nse-a\s+\["icmp"\]\s+tcp:\/\/10\.0\.0\.1:5001/);

      // the same endpoint refreshed through the other registry: it finds the object (409 on create, re-read, update)
      await b.register(ctx, nse('nse-a', { url: 'tcp://10.0.0.1:5001' }));
      await a.unregister(ctx, nse('nse-a'));
      await eventually(() =>
        assert.deepEqual(
          w.items.map((r) => r.deleted),
          [false, false, true],
        ),
      );
      await w.stop();
      const found: string[] = [];
      await b.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
        found.push(r.networkServiceEndpoint?.name ?? ''),
      );
      assert.deepEqual(found, []);
    });

    it("an endpoint that moved its refreshes to another registry outlives the first one's lease", async () => {
      const [a] = clients(await start('reg-a', {}, 500));
      const [b] = clients(await start('reg-b'));
      await a.register(ctx, nse('mover'));
      await b.register(ctx, nse('mover')); // the refresh lands on B: lease of a minute
      await new Promise((r) => setTimeout(r, 1500)); // A's lease of 500 ms ran out meanwhile
      assert.equal(
        (await env.k(['-n', ns, 'get', 'nse', '-o', 'name'])).trim(),
        'networkserviceendpoint.networkservicemesh.io/mover',
      );
      const found: string[] = [];
      await a.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
        found.push(r.networkServiceEndpoint?.name ?? ''),
      );
      assert.deepEqual(found, ['mover'], 'A still sees it too');
    });

    it('keeps names that are not object names, under a derived object name', async () => {
      const [a] = clients(await start('reg-a'));
      const [b] = clients(await start('reg-b'));
      const name = 'NSE_Kernel:1';
      await a.register(ctx, nse(name));
      const obj = objectName(name);
      assert.match(obj, /^nse-kernel-1-[0-9a-f]{10}$/);
      const spec = JSON.parse(await env.k(['-n', ns, 'get', 'nse', obj, '-o', 'jsonpath={.spec}']));
      assert.equal(spec.name, name);
      await eventually(async () => {
        const found: string[] = [];
        await b.find(
          ctx,
          { networkServiceEndpoint: nse(name, { url: '', networkServiceNames: [] }), watch: false },
          (r) => found.push(r.networkServiceEndpoint?.name ?? ''),
        );
        assert.deepEqual(found, [name]);
      });
      await b.unregister(ctx, nse(name));
      assert.equal((await env.k(['-n', ns, 'get', 'nse', '-o', 'name'])).trim(), '');
    });

    it('the registry binary with NSM_REGISTRY_BACKEND=k8s and KUBECONFIG stores in the namespace', async () => {
      const sock = join(dir, 'bin.sock');
      const child = spawn(process.execPath, [join(REPO, 'dist', 'registry', 'main.js')], {
        env: {
          PATH: process.env.PATH,
          KUBECONFIG: env.kubeconfig,
          NSM_REGISTRY_BACKEND: 'k8s',
          NSM_K8S_NAMESPACE: ns,
          NSM_LISTEN_ON: `unix://${sock}`,
          NSM_LOG_LEVEL: 'INFO',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        await eventually(() => assert.match(stderr, /"backend":"k8s".*registry serving/), 30_000);
        const [c] = clients({ url: `unix://${sock}` } as Registry);
        await c.register(ctx, nse('from-binary'));
        assert.equal(
          (await env.k(['-n', ns, 'get', 'nse', '-o', 'name'])).trim(),
          'networkserviceendpoint.networkservicemesh.io/from-binary',
        );
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0, stderr);
    });

    it('deletes the objects a dead registry left once they expire', async () => {
      const expires = Math.floor(Date.now() / 1000) + 2;
      await env.k(
        ['-n', ns, 'apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'networkservicemesh.io/v1',
          kind: 'NetworkServiceEndpoint',
          metadata: { name: 'orphan' },
          spec: {
            name: 'orphan',
            url: 'tcp://10.0.0.9:5001',
            network_service_names: ['icmp'],
            expiration_time: { seconds: expires },
          },
        }),
      );
      const [b] = clients(await start('reg-b', { sweepIntervalMs: 200, staleGraceMs: 500 }));
      const w = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
        b.find(c, { networkServiceEndpoint: undefined, watch: true }, sink),
      );
      await eventually(() => assert.equal(w.items.length, 1));
      assert.equal(w.items[0].networkServiceEndpoint?.expirationTime?.getTime(), expires * 1000);
      await eventually(
        () =>
          assert.deepEqual(
            w.items.map((r) => `${r.networkServiceEndpoint?.name}:${r.deleted}`),
            ['orphan:false', 'orphan:true'],
          ),
        10_000,
      );
      assert.ok(Date.now() >= expires * 1000 + 500, 'not before expiration + grace');
      await w.stop();
      assert.equal((await env.k(['-n', ns, 'get', 'nse', '-o', 'name'])).trim(), '');
    });
  });
});
