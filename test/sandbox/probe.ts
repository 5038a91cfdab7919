// A tiny traffic probe run inside a namespace (`ip netns exec NS node dist/test/sandbox/probe.js`),
// because a fresh machine has no ping or iperf3. Modes:
//   serve HOST PORT          TCP and UDP echo servers on HOST:PORT; prints "ready" when listening
//   tcp HOST PORT MESSAGE    sends MESSAGE over TCP, prints the echoed reply
//   udp HOST PORT MESSAGE    sends MESSAGE over UDP, prints the echoed reply
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';

const TIMEOUT_MS = 3000;
const [mode, host, portText, message = ''] = process.argv.slice(2);
const port = Number(portText);
const family = host?.includes(':') ? 'udp6' : 'udp4';

function fail(why: string): never {
  process.stderr.write(`probe: ${why}\n`);
  process.exit(1);
}

if (mode === 'serve') {
  let ready = 0;
  const up = () => {
    if (++ready === 2) process.stdout.write('ready\n');
  };
  createServer((s) => s.pipe(s)).listen(port, host, up);
  const udp = createSocket(family);
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  udp.bind(port, host, up);
} else if (mode === 'tcp') {
  const timer = setTimeout(() => fail(`tcp ${host}:${port}: no reply within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
  const s = connect({ host, port }, () => s.write(message));
  let got = '';
  s.on('data', (d) => {
    got += d;
    if (got.length >= message.length) {
      clearTimeout(timer);
      process.stdout.write(`${got}\n`);
      s.destroy();
    }
  });
  s.on('error', (e) => fail(`tcp ${host}:${port}: ${e.message}`));
} else if (mode === 'udp') {
  const s = createSocket(family);
  const timer = setTimeout(() => fail(`udp ${host}:${port}: no reply within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
  s.on('message', (msg) => {
    clearTimeout(timer);
    process.stdout.write(`${msg.toString()}\n`);
    s.close();
  });
  s.send(message, port, host, (e) => e && fail(`udp ${host}:${port}: ${e.message}`));
} else {
  fail(`unknown mode "${mode}" (serve | tcp | udp)`);
}
