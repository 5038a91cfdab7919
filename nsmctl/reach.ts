// `node reach.js HOST TIMEOUT_MS`, run inside a namespace by probe.ts: whether HOST answers at all.
// A TCP connect to the discard port is answered by the peer's kernel, with a SYN-ACK or a reset
// (ECONNREFUSED): either proves packets went there and back, with no server, ping, or raw socket
// needed. Prints "reached" or "unreached: <why>" and exits 0 either way (1 only on bad usage).
import { connect } from 'node:net';

const DISCARD_PORT = 9;
const [host, timeoutText] = process.argv.slice(2);
const timeoutMs = Number(timeoutText);
if (!host || !Number.isFinite(timeoutMs)) {
  process.stderr.write('usage: reach.js HOST TIMEOUT_MS\n');
  process.exit(1);
}
const done = (line: string) => {
  process.stdout.write(`${line}\n`);
  process.exit(0);
};
const s = connect({ host, port: DISCARD_PORT });
s.setTimeout(timeoutMs, () => done(`unreached: no answer from ${host} within ${timeoutMs} ms`));
s.on('connect', () => done('reached'));
s.on('error', (e: NodeJS.ErrnoException) =>
  done(e.code === 'ECONNREFUSED' ? 'reached' : `unreached: ${e.code ?? e.message}`),
);
