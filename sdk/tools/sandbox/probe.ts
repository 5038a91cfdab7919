// A tiny traffic probe run inside a namespace (`ip netns exec NS node dist/sdk/tools/sandbox/probe.js`),
// because a fresh machine has no ping or iperf3. Modes:
//   serve HOST PORT          TCP and UDP echo servers on HOST:PORT; prints "ready" when listening
//   tcp HOST PORT MESSAGE    sends MESSAGE over TCP, prints the echoed reply
//   udp HOST PORT MESSAGE    sends MESSAGE over UDP, prints the echoed reply
//   stream HOST PORT INTERVAL_MS
//                            sends a numbered UDP datagram to an echo server every INTERVAL_MS and
//                            counts the replies; prints "streaming" once started, a StreamStats
//                            JSON line on every SIGUSR1, and a last one on SIGTERM (then exits).
//                            SIGUSR2 sets the mark (lostSinceMark counts from the next datagram on)
//                            and prints the stats too.
//                            HOST "@IFNAME" means "the peer of IFNAME": the first IPv4 host route
//                            on IFNAME in /proc/net/route, re-read every tick, so the stream
//                            follows a connection whose addresses change (endpoint reselect);
//                            nothing is sent until there is one.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
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
} else if (mode === 'stream') {
  stream(host, port, Number(message));
} else {
  fail(`unknown mode "${mode}" (serve | tcp | udp | stream)`);
}

/** A period without replies longer than GAP_INTERVALS intervals (and at least GAP_MIN_MS). */
export interface StreamGap {
  /** Epoch ms of the last reply before the gap (the stream's start if there was none). */
  from: number;
  /** Epoch ms of the first reply after the gap; null while the gap lasts. */
  to: number | null;
  ms: number;
  /** Datagrams sent during the gap that got no reply. */
  lost: number;
}

/** What `stream` prints: all times are epoch ms of this machine's clock. */
export interface StreamStats {
  target: string;
  intervalMs: number;
  startedAt: number;
  now: number;
  sent: number;
  /** Distinct datagrams answered. */
  received: number;
  duplicates: number;
  /** Sent more than lossAfterMs ago and never answered. */
  lost: number;
  /** Sequence number of the first datagram after the last SIGUSR2 (0 without one), and when. */
  markSeq: number;
  markAt: number;
  /** `lost`, counting only datagrams from markSeq on. */
  lostSinceMark: number;
  /** Sent less than lossAfterMs ago, not answered yet. */
  inFlight: number;
  lossAfterMs: number;
  /** send() failures (for example ENETUNREACH while the interface is down); they count as sent. */
  sendErrors: number;
  firstReplyAt: number | null;
  lastReplyAt: number | null;
  /** Longest time without any reply, from the first reply on (including the current silence). */
  longestGapMs: number;
  /** Every gap longer than the threshold, oldest first; the last one may be open (to === null). */
  gaps: StreamGap[];
  /** Round-trip times of the answered datagrams, ms. */
  rttMs: { min: number; median: number; max: number } | null;
}

function peerOf(ifname: string): string | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of table.split('\n').slice(1)) {
    const [iface, dst, gw, , , , , mask] = line.trim().split(/\s+/);
    if (iface !== ifname || mask !== 'FFFFFFFF' || gw !== '00000000') continue;
    const n = Number.parseInt(dst, 16); // little-endian
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
  }
  return undefined;
}

function stream(hostArg: string, dstPort: number, intervalMs: number): void {
  if (!(intervalMs >= 1)) fail(`stream: INTERVAL_MS must be a positive number, got "${message}"`);
  const GAP_INTERVALS = 3;
  const gapThresholdMs = Math.max(GAP_INTERVALS * intervalMs, 60);
  const lossAfterMs = Math.max(10 * intervalMs, 1000);
  const auto = hostArg.startsWith('@') ? hostArg.slice(1) : undefined;
  // With "@IFNAME", nothing is sent (or counted) until IFNAME has a host route.
  let target = auto ? (peerOf(auto) ?? '') : hostArg;
  const s = createSocket(hostArg.includes(':') ? 'udp6' : 'udp4');
  const startedAt = Date.now();
  const unanswered = new Map<number, number>(); // seq -> sent at
  const answered = new Set<number>();
  const rtts: number[] = [];
  const gaps: StreamGap[] = [];
  let seq = 0;
  let markSeq = 0;
  let markAt = startedAt;
  let duplicates = 0;
  let sendErrors = 0;
  let firstReplyAt: number | null = null;
  let lastReplyAt: number | null = null;
  let longestGapMs = 0;

  s.on('error', () => {
    sendErrors++;
  });
  s.on('message', (msg) => {
    const now = Date.now();
    const m = /^(\d+) (\d+)$/.exec(msg.toString());
    if (!m) return;
    const n = Number(m[1]);
    if (answered.has(n)) {
      duplicates++;
      return;
    }
    answered.add(n);
    unanswered.delete(n);
    rtts.push(now - Number(m[2]));
    const since = lastReplyAt ?? startedAt;
    if (firstReplyAt !== null) longestGapMs = Math.max(longestGapMs, now - since);
    if (now - since > gapThresholdMs) gaps.push({ from: since, to: now, ms: now - since, lost: 0 });
    firstReplyAt ??= now;
    lastReplyAt = now;
  });

  const tick = () => {
    if (auto) {
      const peer = peerOf(auto);
      if (peer) target = peer;
    }
    if (!target) return;
    const n = seq++;
    const now = Date.now();
    unanswered.set(n, now);
    s.send(`${n} ${now}`, dstPort, target, (e) => {
      if (e) sendErrors++;
    });
  };
  const timer = setInterval(tick, intervalMs);
  tick();

  const stats = (): StreamStats => {
    const now = Date.now();
    let lost = 0;
    let lostSinceMark = 0;
    let inFlight = 0;
    const all = [...gaps];
    const since = lastReplyAt ?? startedAt;
    if (now - since > gapThresholdMs) all.push({ from: since, to: null, ms: now - since, lost: 0 });
    const withLoss = all.map((g) => ({ ...g }));
    for (const [n, sentAt] of unanswered) {
      if (now - sentAt > lossAfterMs) {
        lost++;
        if (n >= markSeq) lostSinceMark++;
      } else inFlight++;
      // A datagram belongs to the gap it was sent in (or just before, while the path was failing).
      const g = withLoss.find((x) => sentAt >= x.from - intervalMs && sentAt < (x.to ?? now));
      if (g) g.lost++;
    }
    const sorted = [...rtts].sort((a, b) => a - b);
    return {
      target,
      intervalMs,
      startedAt,
      now,
      sent: seq,
      received: answered.size,
      duplicates,
      lost,
      markSeq,
      markAt,
      lostSinceMark,
      inFlight,
      lossAfterMs,
      sendErrors,
      firstReplyAt,
      lastReplyAt,
      longestGapMs: firstReplyAt === null ? now - startedAt : Math.max(longestGapMs, now - since),
      gaps: withLoss,
      rttMs: sorted.length
        ? { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] }
        : null,
    };
  };
  const print = () => process.stdout.write(`${JSON.stringify(stats())}\n`);
  process.on('SIGUSR1', print);
  process.on('SIGUSR2', () => {
    markSeq = seq;
    markAt = Date.now();
    print();
  });
  process.once('SIGTERM', () => {
    clearInterval(timer);
    print();
    s.close();
    process.exit(0);
  });
  process.stdout.write('streaming\n');
}
