// A tiny HTTP server for a vL3 member (`ip netns exec POD node dist/examples/l7-names/web.js NAME HOST PORT`):
// answers every request with a JSON line naming itself, the path and the peer address it saw, so a
// caller can tell which member answered and over which connection. Prints "ready" once listening.
import { createServer } from 'node:http';

const [name, host, port] = process.argv.slice(2);
if (!name || !host || !port) {
  process.stderr.write('usage: web.js NAME HOST PORT\n');
  process.exit(2);
}
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    `${JSON.stringify({ name, path: req.url, from: req.socket.remoteAddress, host: req.headers.host })}\n`,
  );
});
server.listen(Number(port), host, () => process.stdout.write('ready\n'));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
