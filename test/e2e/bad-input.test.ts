// Bad input at every gRPC API gets a clear status and leaves nothing behind; the daemons keep
// serving. Requests are sent raw, as any (upstream) client could send them.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import type { Connection, Mechanism } from '../../api/gen/networkservice/connection.js';
import type { NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import { background } from '../../sdk/core/context.js';
import { newNseRegistryClient } from '../../sdk/grpc/registry-client.js';
import { emptyIpContext } from '../../sdk/networkservice/ipam/point2pointipam/index.js';
import { type Pod, Sandbox, type SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { close, kernelMechanism, newConnection, rejectsWith, request, resetPool } from './helpers.js';

interface Case {
  name: string;
  conn: (pod: Pod) => Connection;
  prefs: (pod: Pod) => Mechanism[];
  code: status;
  message: RegExp;
}

const nsURL = (pod: Pod) => `file:///var/run/netns/${pod.netns}`;

const CASES: Case[] = [
  {
    name: 'missing network service',
    conn: () => newConnection('bad-1', ''),
    prefs: (p) => [kernelMechanism({ name: 'x1', inodeURL: nsURL(p) })],
    code: status.INVALID_ARGUMENT,
    // at the first hop (the nsmgr), not after two hops at the forwarder's discover
    message:
      /^failed to request at unix:\/\/[^ ]*nsm\.io\.sock: request\.connection\.network_service is empty/,
  },
  {
    name: 'unknown network service',
    conn: () => newConnection('bad-2', 'no-such-service'),
    prefs: (p) => [kernelMechanism({ name: 'x2', inodeURL: nsURL(p) })],
    code: status.NOT_FOUND,
    message: /network service "no-such-service" not found/,
  },
  {
    name: 'unknown mechanism',
    conn: () => newConnection('bad-3', 'svc'),
    prefs: () => [{ cls: 'LOCAL', type: 'CARRIER_PIGEON', parameters: {} }],
    code: status.INVALID_ARGUMENT,
    message: /no supported mechanism .*CARRIER_PIGEON/,
  },
  {
    name: 'interface name over 15 characters',
    conn: () => newConnection('bad-4', 'svc'),
    prefs: (p) => [kernelMechanism({ name: 'a-very-long-interface', inodeURL: nsURL(p) })],
    code: status.INVALID_ARGUMENT,
    message: /"a-very-long-interface" is 21 characters long/,
  },
  {
    name: 'inodeURL outside /proc/*/ns/net and /var/run/netns',
    conn: () => newConnection('bad-5', 'svc'),
    prefs: () => [kernelMechanism({ name: 'x5', inodeURL: 'file:///etc/passwd' })],
    code: status.INVALID_ARGUMENT,
    message: /etc\/passwd/,
  },
  {
    name: 'inodeURL escaping /var/run/netns with ..',
    conn: () => newConnection('bad-6', 'svc'),
    prefs: () => [kernelMechanism({ name: 'x6', inodeURL: 'file:///var/run/netns/../../../etc/passwd' })],
    code: status.INVALID_ARGUMENT,
    message: /passwd|outside/,
  },
  {
    name: 'inodeURL that is not a network namespace',
    conn: () => newConnection('bad-7', 'svc'),
    prefs: () => [kernelMechanism({ name: 'x7', inodeURL: `file:///proc/${process.pid}/ns/mnt` })],
    code: status.INVALID_ARGUMENT,
    message: /ns\/mnt/,
  },
  {
    name: 'inode:// that matches no namespace',
    conn: () => newConnection('bad-8', 'svc'),
    prefs: () => [kernelMechanism({ name: 'x8', inodeURL: 'inode://4/1' })],
    code: status.NOT_FOUND,
    message: /inode:\/\/4\/1/,
  },
  {
    name: 'KERNEL mechanism without inodeURL',
    conn: () => newConnection('bad-9', 'svc'),
    prefs: () => [kernelMechanism({ name: 'x9' })],
    code: status.INVALID_ARGUMENT,
    message: /inodeURL" is missing/,
  },
  {
    name: 'unknown endpoint name',
    conn: () => newConnection('bad-10', 'svc', { networkServiceEndpointName: 'nobody' }),
    prefs: (p) => [kernelMechanism({ name: 'x10', inodeURL: nsURL(p) })],
    code: status.NOT_FOUND,
    message: /"nobody".*not found/,
  },
  {
    name: 'malformed excluded prefix',
    conn: () =>
      newConnection('bad-11', 'svc', {
        context: {
          ipContext: { ...emptyIpContext(), excludedPrefixes: ['10.0.0.0/99'] },
          dnsContext: undefined,
          ethernetContext: undefined,
          extraContext: {},
          MTU: 0,
        },
      }),
    prefs: (p) => [kernelMechanism({ name: 'x11', inodeURL: nsURL(p) })],
    code: status.INVALID_ARGUMENT,
    message: /10\.0\.0\.0\/99/,
  },
  {
    name: 'malformed VXLAN source address from a remote peer',
    conn: () => newConnection('bad-12', 'svc'),
    prefs: () => [{ cls: 'REMOTE', type: 'VXLAN', parameters: { src_ip: '300.1.2.3' } }],
    code: status.INVALID_ARGUMENT,
    message: /src_ip.*300\.1\.2\.3/,
  },
  ...['0.0.0.0', '255.255.255.255', '239.0.0.1'].map(
    (ip, i): Case => ({
      name: `VXLAN source address ${ip} from a remote peer`,
      conn: () => newConnection(`bad-12-${i}`, 'svc'),
      prefs: () => [{ cls: 'REMOTE', type: 'VXLAN', parameters: { src_ip: ip } }],
      code: status.INVALID_ARGUMENT,
      message: new RegExp(`src_ip" must be a unicast address, got "${ip.replace(/\./g, '\\.')}"`),
    }),
  ),
  ...['all', 'default'].map(
    (name): Case => ({
      name: `interface name "${name}"`,
      conn: () => newConnection(`bad-if-${name}`, 'svc'),
      prefs: (p) => [kernelMechanism({ name, inodeURL: nsURL(p) })],
      code: status.INVALID_ARGUMENT,
      message: new RegExp(`"${name}" is not a valid interface name`),
    }),
  ),
  {
    name: 'a loop: the forwarder named as the endpoint',
    conn: () => newConnection('bad-loop', 'forwarder', { networkServiceEndpointName: 'forwarder-node1' }),
    prefs: (p) => [kernelMechanism({ name: 'xl', inodeURL: nsURL(p) })],
    code: status.FAILED_PRECONDITION,
    message: /a loop, the path already passes through "forwarder-node1"/,
  },
  {
    name: 'oversized label value',
    conn: () => newConnection('bad-13', 'svc', { labels: { app: 'x'.repeat(5000) } }),
    prefs: (p) => [kernelMechanism({ name: 'x13', inodeURL: nsURL(p) })],
    code: status.INVALID_ARGUMENT,
    message: /labels\["app"\] is 5000 characters long/,
  },
];

describe('bad input (e2e)', function () {
  this.timeout(60_000);
  let sb: Sandbox;
  let node: SandboxNode;
  let pod: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    node = sb.node('node1');
    await sb.startEndpoint(await sb.addPod(node, 'nse'), {
      NSM_SERVICE_NAMES: 'svc',
      NSM_CIDR_PREFIX: '172.16.9.0/24',
    });
    pod = await sb.addPod(node, 'client');
  });

  after(async () => {
    await sb?.close();
    resetPool();
  });

  for (const c of CASES) {
    it(`rejects ${c.name} and leaves nothing behind`, async () => {
      await rejectsWith(() => request(node, c.conn(pod), c.prefs(pod)), c.code, c.message);
      assert.deepEqual(await sb.podLinks(), []);
      assert.deepEqual(await sb.nodeLinks(), []);
    });
  }

  it('rejects a regular file under /var/run/netns', async () => {
    const fake = '/var/run/netns/nsm-e2e-not-a-netns';
    writeFileSync(fake, '');
    try {
      await rejectsWith(
        () =>
          request(node, newConnection('bad-f', 'svc'), [
            kernelMechanism({ name: 'xf', inodeURL: `file://${fake}` }),
          ]),
        status.INVALID_ARGUMENT,
        /not a network namespace/,
      );
    } finally {
      rmSync(fake, { force: true });
    }
  });

  it('still serves good requests after all of that', async () => {
    const conn = await request(node, newConnection('good-1', 'svc'), [
      kernelMechanism({ name: 'nsm-1', inodeURL: nsURL(pod) }),
    ]);
    assert.equal(conn.networkServiceEndpointName, 'nse');
    assert.ok(
      sb.daemons.every((d) => d.running),
      'no daemon crashed',
    );
    await close(node, conn);
    assert.deepEqual(await sb.podLinks(), []);
  });

  it('refuses a registration of a socket the caller does not listen on, and a bad name', async () => {
    const reg = newNseRegistryClient(`unix://${node.nsmgrSocket}`);
    const nse = (url: string): NetworkServiceEndpoint => ({
      name: 'nse',
      networkServiceNames: ['svc'],
      networkServiceLabels: {},
      url,
      expirationTime: undefined,
      initialRegistrationTime: undefined,
      pathIds: [],
    });
    try {
      await rejectsWith(
        () => reg.register(background(), nse('unix:///tmp/impostor.sock')),
        status.PERMISSION_DENIED,
        /the calling process does not listen on unix:\/\/\/tmp\/impostor\.sock/,
      );
      await rejectsWith(
        () => reg.register(background(), { ...nse('tcp://10.9.9.9:1'), name: 'x'.repeat(300) }),
        status.INVALID_ARGUMENT,
        /name/,
      );
      // Refused by the nsmgr itself: it used to register its own URL in their place, and hand them out.
      for (const url of [
        'not a url',
        'http://',
        'tcp://10.0.0.1:99999',
        'unix:///',
        'tcp://a\nb:1',
        `tcp://${'a'.repeat(1025)}:1`,
      ]) {
        await rejectsWith(
          () => reg.register(background(), { ...nse(url), name: 'bad-url' }),
          status.INVALID_ARGUMENT,
          /url/,
        );
      }
    } finally {
      reg.close();
    }
  });
});
