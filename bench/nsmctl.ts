// `node dist/bench/nsmctl.js [--n=1000] [--runs=10]`: how long `nsmctl get connections` takes
// against an nsmgr holding N connections (issue 13: ≤ 300 ms at 1000). The nsmgr is nsmctl's
// stand-in (nsmctl/testing.ts): the real MonitorConnections service and ConnectionMonitor an nsmgr
// serves, holding N connections shaped like the sandbox's remote ones (six hops, each with a token
// signed as the sandbox signs them: ES256 JWT with the signer's certificate, about 1.1 KiB; addresses,
// routes), so it needs no root and no kernel. `npm run bench` measures the same command against the
// real nsmgr of its scale part. Reports the whole command as a user runs it (a new
// node process: start-up, imports, the call, the table) and the call alone, in-process.
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '../api/gen/networkservice/connection.js';
import { run } from '../nsmctl/main.js';
import { fakeNsmgr } from '../nsmctl/testing.js';
import { newCA } from '../sdk/tools/spiffe/ca.js';
import { signSegmentToken } from '../sdk/tools/token/jwt.js';
import { summarize } from './stats.js';

// The binary package.json's "bin" installs (the bundle with its code cache, nsmctl/launch.cts), as a user runs it.
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'nsmctl', 'launch.cjs');
const HOPS = ['nsc', 'nsmgr-node1', 'forwarder-node1', 'nsmgr-node2', 'forwarder-node2', 'nse-1'];

function arg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
}

interface Signer {
  id: string;
  key: ReturnType<typeof createPrivateKey>;
  cert: X509Certificate;
}

/** One SVID per hop, from a CA of its own, as the sandbox gives its daemons. */
async function signers(): Promise<Signer[]> {
  const ca = await newCA('bench.sandbox');
  return Promise.all(
    HOPS.map(async (h) => {
      const id = `spiffe://bench.sandbox/${h}`;
      const svid = await ca.issue(id);
      return { id, key: createPrivateKey(svid.keyPem), cert: new X509Certificate(svid.certPem) };
    }),
  );
}

async function remoteLike(i: number, by: Signer[]): Promise<Connection> {
  const expires = new Date(Date.now() + 600_000);
  const pathSegments = await Promise.all(
    HOPS.map(async (name, h) => {
      const id = h === 0 ? `nsc-${i}-0` : `${i}-${name}-0000-0000-000000000000`;
      const claims = { sub: by[h].id, aud: by[h - 1]?.id ?? '', expiresMs: expires.getTime(), segmentId: id };
      const token = await signSegmentToken(by[h].key, claims, by[h].cert);
      return { name: h === 0 ? `nsc-${i}` : name, id, token, expires };
    }),
  );
  return Connection.fromPartial({
    id: `conn-${i}-nsmgr-node1`,
    networkService: 'bench',
    networkServiceEndpointName: 'nse-1',
    mechanism: {
      cls: 'LOCAL',
      type: 'KERNEL',
      parameters: { name: 'nsm-1', inodeURL: `inode://4/40265${String(i).padStart(5, '0')}` },
    },
    context: {
      ipContext: {
        srcIpAddrs: [`172.16.${i >> 8}.${i & 255}/32`],
        dstIpAddrs: ['172.16.255.254/32'],
        srcRoutes: [{ prefix: '172.16.255.254/32' }],
        dstRoutes: [{ prefix: `172.16.${i >> 8}.${i & 255}/32` }],
      },
    },
    path: { index: 1, pathSegments },
  });
}

async function main(): Promise<void> {
  const n = arg('n', 1000);
  const runs = arg('runs', 10);
  const dir = mkdtempSync(join(tmpdir(), 'nsmctl-bench-'));
  const by = await signers();
  const connections: Connection[] = [];
  for (let i = 0; i < n; i++) connections.push(await remoteLike(i, by));
  const nsmgr = await fakeNsmgr(join(dir, 'nsm.sock'), { connections });
  try {
    const cli: number[] = [];
    const cpu: number[] = [];
    let lines = 0;
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      // /usr/bin/time gives the command's own CPU time: on a busy machine the wall time mostly
      // measures the wait for a core, the CPU time what the command costs.
      const args = [
        '-f',
        'cpu %U %S',
        process.execPath,
        CLI,
        '--nsmgr',
        nsmgr.url,
        '--timeout',
        '30000',
        'get',
        'connections',
      ];
      const { stdout, stderr } = await promisify(execFile)('/usr/bin/time', args);
      cli.push(performance.now() - t);
      const m = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000);
      lines = stdout.trimEnd().split('\n').length - 1;
    }
    if (lines !== n) throw new Error(`nsmctl listed ${lines} connections, the nsmgr holds ${n}`);
    const call: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      await run(['--nsmgr', nsmgr.url, 'get', 'connections'], () => {});
      call.push(performance.now() - t);
    }
    const fmt = (s: ReturnType<typeof summarize>) =>
      `median ${s.p50.toFixed(0)} ms, p90 ${s.p90.toFixed(0)} ms, max ${s.max.toFixed(0)} ms`;
    process.stdout.write(
      `nsmctl get connections, ${n} connections, ${runs} runs, load average ${loadavg()[0].toFixed(1)}:\n` +
        `  whole command (new node process), wall: ${fmt(summarize(cli))}\n` +
        `  whole command, CPU time (user + sys): ${fmt(summarize(cpu))}\n` +
        `  the call and the table, in-process: ${fmt(summarize(call))}\n`,
    );
  } finally {
    await nsmgr.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
