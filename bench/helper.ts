// Traffic helper run inside a pod namespace (`ip netns exec NS node dist/bench/helper.js MODE ...`),
// because the bench process itself cannot enter a namespace. Modes:
//
//   echo HOST PORT               UDP echo server; prints "ready" once bound
//   rtt HOST PORT COUNT          COUNT sequential UDP round trips (after a warm-up); prints one JSON
//                                line {count, lost, p50Us, p90Us, p99Us, meanUs}
//   stream HOST PORT INTERVAL_MS sends a numbered UDP datagram every INTERVAL_MS and counts the
//                                echoes. Reads commands on stdin: "mark LABEL" starts a new phase,
//                                "stop" waits 1 s for stragglers and prints one JSON line with, per
//                                phase, datagrams sent / echoed, and the longest gap between echoes
//   reach IFNAME                 watches whether the peer behind IFNAME answers: every 20 ms it
//                                finds the peer (the host route on IFNAME in /proc/net/route) and
//                                opens a TCP connection to it; an accept or a refusal (RST) means
//                                the peer is reachable. Prints a JSON line {t, reachable, peer} at
//                                start and at every change (t = epoch ms). Stops on SIGTERM.
//   reach-host HOST              the same, for a fixed HOST (every 10 ms), whatever interface leads there
//   reach-echo HOST PORT         the same for the UDP echo server at HOST:PORT (an `echo` helper),
//                                from one socket: a datagram every 10 ms, reachable while an echo
//                                came back within 50 ms. Eleven reach-host watchers, each opening
//                                100 TCP connections a second, took ~0.55 of the bench machine's 2
//                                cores; the heal they watched ran on what was left
//   knock-on                     reads one host per stdin line and knocks on it (TCP, 5 ms per try)
//                                until it answers; prints {host, t, tries} (t = epoch ms, sub-ms)
//   dns SERVER NAME COUNT        COUNT sequential A queries for NAME to SERVER:53 (after a warm-up);
//                                prints {count, failed, p50Us, p90Us, p99Us, answer}
import { createSocket, type Socket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

const [mode, ...args] = process.argv.slice(2);

function fail(why: string): never {
  process.stderr.write(`helper: ${why}\n`);
  process.exit(1);
}

function out(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function nearestRank(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

function udp(host: string): Socket {
  return createSocket(host.includes(':') ? 'udp6' : 'udp4');
}

function echo(host: string, port: number): void {
  const s = udp(host);
  s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
  s.on('error', (e) => fail(`echo ${host}:${port}: ${e.message}`));
  s.bind(port, host, () => process.stdout.write('ready\n'));
}

async function rtt(host: string, port: number, count: number): Promise<void> {
  const WARMUP = 50;
  const TIMEOUT_MS = 1000;
  const s = udp(host);
  s.on('error', (e) => fail(`rtt ${host}:${port}: ${e.message}`));
  await new Promise<void>((resolve) => s.connect(port, host, resolve));
  let waiting: ((ok: boolean) => void) | undefined;
  s.on('message', () => waiting?.(true));
  const once = () =>
    new Promise<number | undefined>((resolve) => {
      const started = process.hrtime.bigint();
      const timer = setTimeout(() => {
        waiting = undefined;
        resolve(undefined);
      }, TIMEOUT_MS);
      waiting = () => {
        clearTimeout(timer);
        waiting = undefined;
        resolve(Number(process.hrtime.bigint() - started) / 1000);
      };
      s.send('x'.repeat(56));
    });
  for (let i = 0; i < WARMUP; i++) await once();
  const samples: number[] = [];
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const us = await once();
    if (us === undefined) lost++;
    else samples.push(us);
  }
  s.close();
  samples.sort((a, b) => a - b);
  out({
    count,
    lost,
    p50Us: nearestRank(samples, 50),
    p90Us: nearestRank(samples, 90),
    p99Us: nearestRank(samples, 99),
    meanUs: samples.reduce((a, b) => a + b, 0) / (samples.length || 1),
  });
}

interface Phase {
  label: string;
  first: number;
  sent: number;
}

function stream(host: string, port: number, intervalMs: number): void {
  const s = udp(host);
  s.on('error', () => {}); // ENETUNREACH etc. while the path is down: the datagram is simply lost
  const phases: Phase[] = [{ label: 'start', first: 0, sent: 0 }];
  const received = new Set<number>();
  let seq = 0;
  let lastEcho = Date.now();
  let maxGapMs = 0;
  let gapPhase = 'start';
  s.on('message', (msg) => {
    const now = Date.now();
    if (now - lastEcho > maxGapMs) {
      maxGapMs = now - lastEcho;
      gapPhase = phases[phases.length - 1].label;
    }
    lastEcho = now;
    received.add(msg.readUInt32BE(0));
  });
  const timer = setInterval(() => {
    const b = Buffer.alloc(64);
    b.writeUInt32BE(seq++, 0);
    phases[phases.length - 1].sent++;
    s.send(b, port, host);
  }, intervalMs);
  createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (raw) => {
    const line = raw.trim();
    if (line.startsWith('mark ')) phases.push({ label: line.slice(5), first: seq, sent: 0 });
    if (line === 'stop') {
      clearInterval(timer);
      setTimeout(() => {
        const result = phases.map((p) => {
          let echoed = 0;
          for (let n = p.first; n < p.first + p.sent; n++) if (received.has(n)) echoed++;
          return { label: p.label, sent: p.sent, echoed, lost: p.sent - echoed };
        });
        out({ intervalMs, phases: result, maxGapMs, gapPhase });
        s.close();
        process.exit(0);
      }, 1000);
    }
  });
}

/** The IPv4 peer behind ifname: the destination of a host route (mask 255.255.255.255) on it. */
function peerOf(ifname: string): string | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== ifname || f[7] !== 'FFFFFFFF') continue;
    const hex = f[2] !== '00000000' ? f[2] : f[1];
    const n = Number.parseInt(hex, 16);
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
  }
  return undefined;
}

function knock(peer: string, timeoutMs = 100): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: peer, port: 9 });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => done(true));
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
  });
}

async function reach(ifname: string): Promise<void> {
  let last: boolean | undefined;
  let lastPeer: string | undefined;
  process.on('SIGTERM', () => process.exit(0));
  for (;;) {
    const peer = peerOf(ifname);
    const ok = peer ? await knock(peer) : false;
    if (ok !== last || peer !== lastPeer) out({ t: Date.now(), reachable: ok, peer: peer ?? null });
    last = ok;
    lastPeer = peer;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function reachHost(host: string): Promise<void> {
  let last: boolean | undefined;
  process.on('SIGTERM', () => process.exit(0));
  for (;;) {
    const ok = await knock(host, 50);
    if (ok !== last) out({ t: Date.now(), reachable: ok, peer: host });
    last = ok;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function reachEcho(host: string, port: number): void {
  const INTERVAL_MS = 10;
  const LATE_MS = 50;
  let last: boolean | undefined;
  let lastEcho = Number.NEGATIVE_INFINITY;
  const report = (ok: boolean) => {
    if (ok !== last) out({ t: Date.now(), reachable: ok, peer: host });
    last = ok;
  };
  const s = udp(host);
  s.on('message', () => {
    lastEcho = Date.now();
    report(true);
  });
  s.on('error', () => {}); // a route that is gone for now: the next datagram tries again
  process.on('SIGTERM', () => process.exit(0));
  const probe = Buffer.from('reach');
  setInterval(() => {
    s.send(probe, port, host, () => {});
    if (Date.now() - lastEcho > LATE_MS) report(false);
  }, INTERVAL_MS);
}

/** Epoch milliseconds with sub-millisecond resolution (comparable with the bench's own clock). */
const nowMs = () => performance.timeOrigin + performance.now();

function knockOn(): void {
  const MAX_TRIES = 1000;
  createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY }).on('line', async (raw) => {
    const host = raw.trim();
    if (!host) return;
    // A short timeout per try: a SYN sent before the path exists is retransmitted only after 1 s.
    let tries = 0;
    while (tries < MAX_TRIES) {
      tries++;
      if (await knock(host, 5)) return out({ host, t: nowMs(), tries });
      await new Promise((r) => setTimeout(r, 1));
    }
    out({ host, t: null, tries });
  });
}

async function dnsRtt(server: string, name: string, count: number): Promise<void> {
  const WARMUP = 20;
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([server]);
  const samples: number[] = [];
  let failed = 0;
  let answer: string[] = [];
  for (let i = -WARMUP; i < count; i++) {
    const started = process.hrtime.bigint();
    try {
      answer = await r.resolve4(name);
      if (i >= 0) samples.push(Number(process.hrtime.bigint() - started) / 1000);
    } catch {
      if (i >= 0) failed++;
    }
  }
  samples.sort((a, b) => a - b);
  out({
    count,
    failed,
    p50Us: nearestRank(samples, 50),
    p90Us: nearestRank(samples, 90),
    p99Us: nearestRank(samples, 99),
    answer,
  });
}

switch (mode) {
  case 'echo':
    echo(args[0], Number(args[1]));
    break;
  case 'rtt':
    await rtt(args[0], Number(args[1]), Number(args[2]));
    break;
  case 'stream':
    stream(args[0], Number(args[1]), Number(args[2]));
    break;
  case 'reach':
    await reach(args[0]);
    break;
  case 'reach-host':
    await reachHost(args[0]);
    break;
  case 'reach-echo':
    reachEcho(args[0], Number(args[1]));
    break;
  case 'knock-on':
    knockOn();
    break;
  case 'dns':
    await dnsRtt(args[0], args[1], Number(args[2]));
    break;
  default:
    fail(`unknown mode "${mode}" (echo | rtt | stream | reach | reach-host | reach-echo | knock-on | dns)`);
}
