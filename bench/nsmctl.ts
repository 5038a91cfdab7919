// `node dist/bench/nsmctl.js [--n=1000] [--runs=10]`: how long `nsmctl get connections` takes
// against an nsmgr holding N connections (issue 13: ≤ 300 ms at 1000). The nsmgr is nsmctl's
// stand-in (nsmctl/testing.ts): the real MonitorConnections service and ConnectionMonitor an nsmgr
// serves, holding N connections shaped like the sandbox's remote ones (six hops, tokens, addresses,
// routes), so it needs no root and no kernel. Reports the whole command as a user runs it (a new
// node process: start-up, imports, the call, the table) and the call alone, in-process.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Connection } from '../api/gen/networkservice/connection.js';
import { run } from '../nsmctl/main.js';
import { fakeNsmgr } from '../nsmctl/testing.js';
import { summarize } from './stats.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'nsmctl', 'cli.js');
const HOPS = ['nsc', 'nsmgr-node1', 'forwarder-node1', 'nsmgr-node2', 'forwarder-node2', 'nse-1'];

function arg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
}

function remoteLike(i: number): Connection {
  const expires = new Date(Date.now() + 600_000);
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
    path: {
      index: 1,
      pathSegments: HOPS.map((name, h) => ({
        name: h === 0 ? `nsc-${i}` : name,
        id: h === 0 ? `nsc-${i}-0` : `${i}-${name}-0000-0000-000000000000`,
        token: Buffer.from(JSON.stringify({ sub: name, aud: HOPS[h - 1] ?? '', exp: 1796034835 })).toString(
          'base64url',
        ),
        expires,
      })),
    },
  });
}

async function main(): Promise<void> {
  const n = arg('n', 1000);
  const runs = arg('runs', 10);
  const dir = mkdtempSync(join(tmpdir(), 'nsmctl-bench-'));
  const nsmgr = await fakeNsmgr(join(dir, 'nsm.sock'), {
    connections: Array.from({ length: n }, (_, i) => remoteLike(i)),
  });
  try {
    const cli: number[] = [];
    const cpu: number[] = [];
    let lines = 0;
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      // /usr/bin/time gives the command's own CPU time: on a busy machine the wall time mostly
      // measures the wait for a core, the CPU time what the command costs.
      const args = ['-f', 'cpu %U %S', process.execPath, CLI, '--nsmgr', nsmgr.url, 'get', 'connections'];
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
