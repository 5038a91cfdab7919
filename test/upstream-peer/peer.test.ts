// biome-ignore-all lint/suspicious/noExplicitAny: the peer's output is protojson, checked field by field
// Wire compatibility with upstream NSM, checked from the other side: a peer built from upstream's
// own generated Go code (github.com/networkservicemesh/api + grpc-go, see main.go beside this file)
// requests, monitors and closes connections through our nsmgr and registers and finds endpoints
// and services in our registry, both through the nsmgr's proxy and directly.
//
// Needs Go (CI has it): without `go` on PATH this test fails rather than skips.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, links } from '../../sdk/tools/sandbox/shell.js';
import { BUILD_TIMEOUT_MS, buildPeer, exec, type PeerBinary, type Run } from './build.js';

describe('upstream Go peer (github.com/networkservicemesh/api) against our daemons (e2e)', function () {
  this.timeout(60_000);
  let bin = '';
  let built: PeerBinary | undefined;
  let sb: Sandbox | undefined;
  let node: SandboxNode;
  let pod: Pod;
  const suffix = Date.now().toString(36);

  /** Runs the peer (inside `netns` when given). */
  function runPeer(args: string[], netns?: string): Promise<Run> {
    return netns ? exec('ip', ['netns', 'exec', netns, bin, ...args]) : exec(bin, args);
  }

  /** Runs the peer and returns its JSON result; fails the test with its stderr otherwise. */
  async function peer(args: string[], netns?: string): Promise<any> {
    const r = await runPeer(args, netns);
    assert.equal(
      r.code,
      0,
      `nsm-upstream-peer ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`,
    );
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  /** Runs the peer expecting a gRPC failure with `code` (grpc-go's name, e.g. "InvalidArgument"). */
  async function peerFails(args: string[], code: string, message: RegExp, netns?: string): Promise<string> {
    const r = await runPeer(args, netns);
    assert.equal(
      r.code,
      1,
      `nsm-upstream-peer ${args.join(' ')}: expected a ${code} failure, got exit ${r.code}: ${r.stdout}${r.stderr}`,
    );
    const line = r.stderr.trim();
    assert.ok(line.startsWith(`${code}: `), `expected ${code}, got: ${line}`);
    assert.match(line, message);
    return line;
  }

  /** Starts a long-running `monitor`; next() resolves with each event (one JSON line) in turn. */
  function watchMonitor(args: string[]): { next: () => Promise<any>; done: Promise<void> } {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: any[] = [];
    const waiting: ((e: any) => void)[] = [];
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    createInterface({ input: proc.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      const event = JSON.parse(line);
      const w = waiting.shift();
      if (w) w(event);
      else events.push(event);
    });
    const done = new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`monitor exited with ${code}: ${stderr.trim()}`)),
      );
    });
    done.catch(() => undefined); // reported by next() or by awaiting done
    const timeoutMs = 15_000;
    return {
      done,
      next: () => {
        const queued = events.shift();
        if (queued) return Promise.resolve(queued);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            proc.kill();
            reject(new Error(`no monitor event within ${timeoutMs} ms; stderr: ${stderr.trim()}`));
          }, timeoutMs);
          waiting.push((e) => {
            clearTimeout(timer);
            resolve(e);
          });
          done.catch((err: Error) => {
            clearTimeout(timer);
            reject(err);
          });
        });
      },
    };
  }

  const nsmgr = () => `unix://${node.nsmgrSocket}`;
  const netnsFile = (p: Pod) => `/var/run/netns/${p.netns}`;

  before('build the upstream peer with go, start a one-node mesh with an endpoint', async function () {
    this.timeout(BUILD_TIMEOUT_MS + 30_000);
    built = await buildPeer();
    bin = built.bin;

    // Insecure mode: the peer dials the registry's tcp port directly, in plaintext as before.
    sb = await Sandbox.create({ nodes: 1, tls: false });
    node = sb.node('node1');
    await sb.startEndpoint(await sb.addPod(node, 'nse'), {
      NSM_SERVICE_NAMES: 'svc',
      NSM_CIDR_PREFIX: '172.16.7.0/24',
    });
    pod = await sb.addPod(node, 'client');
  });

  after(async () => {
    await sb?.close();
    built?.remove();
  });

  describe('networkservice: request, monitor, close', () => {
    let conn: any;
    let connJSON = '';
    const id = `upstream-conn-${suffix}`;

    it('requests a kernel connection with upstream types', async () => {
      connJSON = JSON.stringify(
        await peer([
          'request',
          '--addr',
          nsmgr(),
          '--id',
          id,
          '--service',
          'svc',
          '--netns',
          netnsFile(pod),
          '--ifname',
          'nsm-1',
        ]),
      );
      conn = JSON.parse(connJSON);
      assert.equal(conn.networkService, 'svc');
      assert.equal(conn.networkServiceEndpointName, 'nse');
      assert.equal(conn.state, 'UP');
      assert.equal(conn.mechanism?.cls, 'LOCAL');
      assert.equal(conn.mechanism?.type, 'KERNEL');
      assert.equal(conn.mechanism?.parameters?.name, 'nsm-1');
      const ip = conn.context?.ipContext;
      assert.ok(ip, `no ipContext in ${connJSON}`);
      assert.equal(ip.srcIpAddrs.length, 1, `srcIpAddrs: ${ip.srcIpAddrs}`);
      assert.equal(ip.dstIpAddrs.length, 1, `dstIpAddrs: ${ip.dstIpAddrs}`);
      for (const a of [...ip.srcIpAddrs, ...ip.dstIpAddrs]) assert.match(a, /^172\.16\.7\.\d+\/32$/);
      assert.notEqual(ip.srcIpAddrs[0], ip.dstIpAddrs[0]);
      const segments = conn.path?.pathSegments ?? [];
      assert.deepEqual(
        segments.map((s: any) => s.name),
        ['upstream-peer', 'nsmgr-node1', 'forwarder-node1', 'nse'],
      );
      assert.equal(conn.path.index ?? 0, 0, 'the path comes back at the client index');
      assert.equal(segments[0].id, id, 'the client keeps its own segment id');
      assert.equal(conn.id, id);
      for (const s of segments) {
        assert.ok(s.id, `segment ${s.name} has an id`);
        assert.ok(s.token, `segment ${s.name} has a token`);
        assert.ok(!Number.isNaN(Date.parse(s.expires)), `segment ${s.name} expires: ${s.expires}`);
      }
    });

    it('puts the interface with the source address into the client namespace', async () => {
      assert.ok(conn, 'the request succeeded');
      assert.deepEqual(await addresses(pod.netns, 'nsm-1'), conn.context.ipContext.srcIpAddrs);
    });

    it('shows the connection to an upstream monitor (INITIAL_STATE_TRANSFER)', async () => {
      assert.ok(conn, 'the request succeeded');
      const event = await peer(['monitor', '--addr', nsmgr(), '--segment-id', id]);
      assert.equal(event.type, 'INITIAL_STATE_TRANSFER');
      const seen = Object.values(event.connections ?? {}) as any[];
      assert.equal(seen.length, 1, `connections: ${JSON.stringify(event.connections)}`);
      assert.equal(seen[0].networkService, 'svc');
      assert.equal(seen[0].networkServiceEndpointName, 'nse');
      assert.ok(
        seen[0].path.pathSegments.some((s: any) => s.id === id),
        'the monitored connection carries the client segment',
      );
      assert.deepEqual(seen[0].context.ipContext.srcIpAddrs, conn.context.ipContext.srcIpAddrs);

      const all = await peer(['monitor', '--addr', nsmgr()]);
      assert.equal(all.type, 'INITIAL_STATE_TRANSFER');
      assert.ok(Object.keys(all.connections ?? {}).length >= 1, 'an empty selector sees the connection');

      const none = await peer(['monitor', '--addr', nsmgr(), '--segment-id', 'no-such-segment']);
      assert.equal(none.type, 'INITIAL_STATE_TRANSFER');
      assert.deepEqual(none.connections ?? {}, {});
    });

    it('refreshes the connection by sending back the returned one (same path ids, addresses, interface)', async () => {
      assert.ok(conn, 'the request succeeded');
      // An upstream client (begin/refresh) refreshes by sending the connection it got back.
      const again = await peer([
        'request',
        '--addr',
        nsmgr(),
        '--conn-json',
        connJSON,
        '--netns',
        netnsFile(pod),
        '--ifname',
        'nsm-1',
      ]);
      assert.equal(again.id, id);
      assert.equal(again.networkServiceEndpointName, 'nse');
      assert.deepEqual(
        again.path.pathSegments.map((s: any) => s.id),
        conn.path.pathSegments.map((s: any) => s.id),
        'every hop recognised the refresh',
      );
      assert.deepEqual(again.context.ipContext, conn.context.ipContext);
      assert.deepEqual(await addresses(pod.netns, 'nsm-1'), conn.context.ipContext.srcIpAddrs);
      connJSON = JSON.stringify(again);
    });

    it('closes the connection: an upstream monitor gets DELETE, the interfaces are gone', async () => {
      assert.ok(conn, 'the request succeeded');
      const monitor = watchMonitor(['monitor', '--addr', nsmgr(), '--segment-id', id, '--events', '2']);
      const initial = await monitor.next();
      assert.equal(initial.type, 'INITIAL_STATE_TRANSFER');
      assert.equal(Object.keys(initial.connections ?? {}).length, 1);
      assert.deepEqual(await peer(['close', '--addr', nsmgr(), '--conn-json', connJSON]), { closed: true });
      const deleted = await monitor.next();
      assert.equal(deleted.type, 'DELETE', JSON.stringify(deleted));
      const gone = Object.values(deleted.connections ?? {}) as any[];
      assert.equal(gone.length, 1, JSON.stringify(deleted));
      assert.equal(gone[0].id, conn.path.pathSegments[1].id, "the nsmgr's own connection id");
      assert.ok(gone[0].path.pathSegments.some((s: any) => s.id === id));
      await monitor.done;
      assert.ok(!(await links(pod.netns)).some((l) => l.ifname === 'nsm-1'), 'nsm-1 removed');
      assert.deepEqual(await sb!.podLinks(), []);
      assert.deepEqual(await sb!.nodeLinks(), []);
      const after = await peer(['monitor', '--addr', nsmgr(), '--segment-id', id]);
      assert.deepEqual(after.connections ?? {}, {}, 'the monitor no longer shows it');
    });
  });

  describe('networkservice: errors as an upstream client sees them', () => {
    const cases: { kind: string; code: string; message: RegExp }[] = [
      {
        kind: 'long-ifname',
        code: 'InvalidArgument',
        message: /"a-very-long-interface" is 21 characters long/,
      },
      { kind: 'unknown-service', code: 'NotFound', message: /network service "no-such-service" not found/ },
      { kind: 'empty-service', code: 'InvalidArgument', message: /network_service is empty/ },
      {
        kind: 'unknown-mechanism',
        code: 'InvalidArgument',
        message: /no supported mechanism .*CARRIER_PIGEON/,
      },
      { kind: 'no-inode-url', code: 'InvalidArgument', message: /inodeURL" is missing/ },
      { kind: 'bad-inode-url', code: 'InvalidArgument', message: /etc\/passwd/ },
    ];
    for (const c of cases) {
      it(`${c.kind} -> ${c.code}, nothing left behind`, async () => {
        await peerFails(
          [
            'bad-request',
            '--kind',
            c.kind,
            '--addr',
            nsmgr(),
            '--id',
            `upstream-bad-${c.kind}-${suffix}`,
            '--service',
            'svc',
            '--netns',
            netnsFile(pod),
            '--ifname',
            'nsm-bad',
          ],
          c.code,
          c.message,
        );
        assert.deepEqual(await sb!.podLinks(), []);
        assert.deepEqual(await sb!.nodeLinks(), []);
      });
    }

    it('asks for an endpoint that does not exist -> NotFound', async () => {
      await peerFails(
        [
          'request',
          '--addr',
          nsmgr(),
          '--id',
          `upstream-bad-nse-${suffix}`,
          '--service',
          'svc',
          '--nse',
          'nobody',
          '--netns',
          netnsFile(pod),
          '--ifname',
          'nsm-bad',
        ],
        'NotFound',
        /"nobody".*not found/,
      );
    });
  });

  describe('registry', () => {
    // Never dialled: an address of the sandbox's own node, so no traffic can leave the sandbox.
    const fakeURL = () => `tcp://${node.ip}:5999`;

    for (const via of ['nsmgr socket', 'registry directly (inside node1)'] as const) {
      const direct = via !== 'nsmgr socket';
      const addr = () => (direct ? sb!.registryURL : nsmgr());
      const netns = () => (direct ? node.netns : undefined);
      const tag = direct ? 'reg' : 'mgr';

      it(`registers, finds and unregisters an endpoint through the ${via}`, async () => {
        const name = `up-nse-${tag}-${suffix}`;
        const service = `up-svc-${tag}-${suffix}`;
        const reg = await peer(
          [
            'register-nse',
            '--addr',
            addr(),
            '--name',
            name,
            '--service',
            service,
            '--url',
            fakeURL(),
            '--labels',
            'app=upstream',
          ],
          netns(),
        );
        assert.equal(reg.name, name);
        assert.deepEqual(reg.networkServiceNames, [service]);
        assert.deepEqual(reg.networkServiceLabels?.[service]?.labels, { app: 'upstream' });
        assert.ok(reg.url, 'the registered endpoint has a url');
        if (direct) assert.equal(reg.url, fakeURL());
        assert.ok(!Number.isNaN(Date.parse(reg.expirationTime)), `expirationTime: ${reg.expirationTime}`);

        const found = await peer(['find-nse', '--addr', addr(), '--service', service], netns());
        assert.equal(found.results.length, 1, JSON.stringify(found));
        const nse = found.results[0].networkServiceEndpoint;
        assert.equal(found.results[0].deleted, false);
        assert.equal(nse.name, name);
        assert.deepEqual(nse.networkServiceNames, [service]);
        assert.equal(nse.url, reg.url);
        assert.deepEqual(nse.networkServiceLabels?.[service]?.labels, { app: 'upstream' });

        // Registered through one door, seen through the other.
        const other = direct
          ? await peer(['find-nse', '--addr', nsmgr(), '--name', name])
          : await peer(['find-nse', '--addr', sb!.registryURL, '--name', name], node.netns);
        assert.deepEqual(
          other.results.map((r: any) => r.networkServiceEndpoint.name),
          [name],
        );
        // As upstream's nsmgr does, it registers a local endpoint under its own URL and hands
        // out the endpoint's URL to its local clients.
        if (!direct) assert.equal(other.results[0].networkServiceEndpoint.url, node.nsmgrURL);

        assert.deepEqual(
          await peer(['unregister-nse', '--addr', addr(), '--name', name, '--service', service], netns()),
          { unregistered: true },
        );
        const gone = await peer(['find-nse', '--addr', addr(), '--service', service], netns());
        assert.deepEqual(gone.results, []);
      });

      it(`registers and finds a network service through the ${via}`, async () => {
        const name = `up-ns-${tag}-${suffix}`;
        const reg = await peer(
          ['register-ns', '--addr', addr(), '--name', name, '--payload', 'ETHERNET'],
          netns(),
        );
        assert.equal(reg.name, name);
        assert.equal(reg.payload, 'ETHERNET');
        const found = await peer(['find-ns', '--addr', addr(), '--name', name], netns());
        assert.equal(found.results.length, 1, JSON.stringify(found));
        assert.equal(found.results[0].networkService.name, name);
        assert.equal(found.results[0].networkService.payload, 'ETHERNET');
        // The endpoint's service is there too, and an empty query lists both.
        const all = await peer(['find-ns', '--addr', addr()], netns());
        const names = all.results.map((r: any) => r.networkService.name);
        assert.ok(names.includes(name) && names.includes('svc'), `services: ${names}`);
        assert.deepEqual(await peer(['unregister-ns', '--addr', addr(), '--name', name], netns()), {
          unregistered: true,
        });
        const gone = await peer(['find-ns', '--addr', addr(), '--name', name], netns());
        assert.deepEqual(gone.results, []);
      });

      it(`finds the sandbox endpoint by service through the ${via}`, async () => {
        const found = await peer(['find-nse', '--addr', addr(), '--service', 'svc'], netns());
        assert.deepEqual(
          found.results.map((r: any) => r.networkServiceEndpoint.name),
          ['nse'],
        );
      });

      it(`refuses an endpoint it cannot own or a duplicate name, and an oversized name, through the ${via}`, async () => {
        await peerFails(
          [
            'register-nse',
            '--addr',
            addr(),
            '--name',
            'nse',
            '--service',
            'svc',
            '--url',
            'unix:///tmp/impostor.sock',
          ],
          // The nsmgr first checks that the caller listens on the socket it registers (issue 10);
          // the registry, which cannot see the caller's sockets, refuses the duplicate name.
          via === 'nsmgr socket' ? 'PermissionDenied' : 'AlreadyExists',
          via === 'nsmgr socket' ? /does not listen on unix:\/\/\/tmp\/impostor.sock/ : /already registered/,
          netns(),
        );
        await peerFails(
          [
            'register-nse',
            '--addr',
            addr(),
            '--name',
            'x'.repeat(300),
            '--service',
            'svc',
            '--url',
            fakeURL(),
          ],
          'InvalidArgument',
          /name/,
          netns(),
        );
      });
    }

    it('the sandbox endpoint still serves an upstream request after the registry calls', async () => {
      const id = `upstream-last-${suffix}`;
      const c = await peer([
        'request',
        '--addr',
        nsmgr(),
        '--id',
        id,
        '--service',
        'svc',
        '--netns',
        netnsFile(pod),
        '--ifname',
        'nsm-2',
      ]);
      assert.equal(c.networkServiceEndpointName, 'nse');
      await peer(['close', '--addr', nsmgr(), '--conn-json', JSON.stringify(c)]);
      assert.deepEqual(await sb!.podLinks(), []);
      assert.ok(
        sb!.daemons.every((d) => d.running),
        'no daemon crashed',
      );
    });
  });
});
