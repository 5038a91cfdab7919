// End-to-end: a pod with an L7 sidecar in Istio's shape (nat OUTPUT → SIDECAR_OUTPUT → REDIRECT of all
// outbound TCP to a local proxy port) and a mesh connection. By default the nsc puts a RETURN rule for
// the mesh interface first in nat OUTPUT: the mesh peer answers, the sidecar sees nothing. With
// `?l7=capture` the sidecar gets the connection (only the nsc's data-plane check to port 9 skips it). Either way the namespace's nat
// table is what the sidecar made once the client is gone.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../sdk/testing/eventually.js';
import type { Daemon } from '../../sdk/tools/sandbox/daemon.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

const PROXY_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'sidecar-proxy.js');
const PROXY_PORT = 15001;
const PEER_PORT = 7400;
const PROXY_UID = 1337;
/** What istio-iptables writes for outbound capture, cut to its core (the proxy's own uid is exempt). */
const SIDECAR_RULES = `*nat
:SIDECAR_OUTPUT - [0:0]
:SIDECAR_REDIRECT - [0:0]
-A OUTPUT -p tcp -j SIDECAR_OUTPUT
-A SIDECAR_OUTPUT -m owner --uid-owner ${PROXY_UID} -j RETURN
-A SIDECAR_OUTPUT -d 127.0.0.1/32 -j RETURN
-A SIDECAR_OUTPUT -j SIDECAR_REDIRECT
-A SIDECAR_REDIRECT -p tcp -j REDIRECT --to-ports ${PROXY_PORT}
COMMIT
`;

describe('L7 sidecar coexistence (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let pod: Pod;
  let proxy: Daemon;
  let sidecarOnly: string;

  const nat = () => sh('ip', ['netns', 'exec', pod.netns, 'iptables', '-t', 'nat', '-S']);
  const seenBySidecar = () =>
    readFileSync(proxy.logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('sidecar saw'));

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    const nse = await sb.addPod(sb.node('node1'), 'nse');
    await sb.startEndpoint(nse, { NSM_SERVICE_NAMES: 'l7svc', NSM_CIDR_PREFIX: '172.16.11.0/24' });
    await sb.echoServer(nse.netns, '0.0.0.0', PEER_PORT);
    pod = await sb.addPod(sb.node('node1'), 'app');
    await sh('ip', [
      'netns',
      'exec',
      pod.netns,
      'sh',
      '-c',
      `iptables-restore --noflush <<'EOF'\n${SIDECAR_RULES}EOF`,
    ]);
    sidecarOnly = await nat();
    proxy = await sb.spawn(
      `sidecar-${pod.name}`,
      pod.netns,
      PROXY_SCRIPT,
      { SIDECAR_PORT: String(PROXY_PORT) },
      (l) => l === 'ready',
    );
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('by default lets mesh traffic bypass the sidecar, with one rule first in nat OUTPUT, gone after close', async () => {
    const { daemon, connections } = await sb.startClient(pod, 'kernel://l7svc/nsm-1');
    const peer = hostIP(connections[0].context!.ipContext!.dstIpAddrs[0]);
    const output = (await nat()).split('\n').filter((l) => l.startsWith('-A OUTPUT'));
    assert.match(output[0], /^-A OUTPUT -o nsm-1 -m comment --comment "?nsm-l7-bypass:app-0"? -j RETURN$/);
    assert.equal(output.length, 2, output.join('\n'));
    const before = seenBySidecar().length;
    assert.equal((await sb.probe(pod.netns, ['tcp', peer, String(PEER_PORT), 'direct'])).trim(), 'direct');
    assert.equal(seenBySidecar().length, before, 'the sidecar saw no mesh connection');
    await daemon.stop();
    assert.equal(await nat(), sidecarOnly, 'the nat table is the sidecar’s alone again');
  });

  it('with ?l7=capture sends mesh traffic through the sidecar, all but the data-plane check', async () => {
    const { daemon, connections } = await sb.startClient(pod, 'kernel://l7svc/nsm-1?l7=capture');
    const output = (await nat()).split('\n').filter((l) => l.startsWith('-A OUTPUT'));
    assert.match(
      output[0],
      /^-A OUTPUT -o nsm-1 -p tcp -m tcp --dport 9 -m comment --comment "?nsm-l7-bypass:app-0"? -j RETURN$/,
    );
    assert.equal(output.length, 2, output.join('\n'));
    const before = seenBySidecar().length;
    const peer = hostIP(connections[0].context!.ipContext!.dstIpAddrs[0]);
    assert.equal(
      (await sb.probe(pod.netns, ['tcp', peer, String(PEER_PORT), 'captured'])).trim(),
      'sidecar:captured',
    );
    // Exactly one: the client's liveness checks (every 200 ms, TCP to port 9) do not reach it.
    await eventually(() => assert.equal(seenBySidecar().length, before + 1), 5_000);
    await daemon.stop();
    assert.equal(await nat(), sidecarOnly);
  });
});
