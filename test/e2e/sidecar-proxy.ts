// A stand-in for an L7 sidecar's outbound listener (Istio's 15001), run in a pod's namespace
// (`SIDECAR_PORT=15001 ip netns exec NS node sidecar-proxy.js`): every TCP connection that iptables REDIRECTs to it
// is logged ("sidecar saw FROM") and answered with its own bytes prefixed by "sidecar:", so a client
// can tell from the reply whether it went through the sidecar. Prints "ready" when listening.
import { createServer } from 'node:net';

const port = Number(process.env.SIDECAR_PORT);
createServer((s) => {
  process.stdout.write(`sidecar saw ${s.remoteAddress}:${s.remotePort}\n`);
  s.on('data', (d) => s.write(`sidecar:${d}`));
  s.on('error', () => s.destroy());
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
