// A small HTTP backend for the gateway's tests, demo and bench, run in a backend pod's namespace:
// `node http-backend.js NAME PORT [STATUS]` (or HTTP_BACKEND_NAME, _PORT, _STATUS). It answers every request with STATUS (default 200) and
// `{"backend": NAME, "path": ...}`; a request header `x-delay-ms: N` makes it answer N ms late (to
// make a route timeout fire). It prints `{"msg":"http-backend serving"}` once it listens.
import { createServer } from 'node:http';

const env = process.env;
const [
  name = env.HTTP_BACKEND_NAME ?? 'backend',
  port = env.HTTP_BACKEND_PORT ?? '8080',
  status = env.HTTP_BACKEND_STATUS ?? '200',
] = process.argv.slice(2);
const server = createServer((req, res) => {
  const delay = Number(req.headers['x-delay-ms'] ?? 0);
  const answer = () => {
    res.writeHead(Number(status), { 'content-type': 'application/json', 'x-backend': name });
    res.end(JSON.stringify({ backend: name, path: req.url }));
  };
  if (delay > 0) {
    const timer = setTimeout(answer, delay);
    res.on('close', () => clearTimeout(timer));
  } else answer();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), () =>
  process.stdout.write(`${JSON.stringify({ msg: 'http-backend serving', name, port })}\n`),
);
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
