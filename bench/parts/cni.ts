// 6. The baseline a user would pick instead: the real CNI `ptp` plugin with `host-local` IPAM
// (Debian containernetworking-plugins) attaching eth0 to a fresh namespace, ADD then DEL, the same
// number of times as our sequential local requests. The plugin runs as a container runtime runs it
// (exec, config on stdin, CNI_* in the environment), but inside a scratch "host" namespace so that
// its host ends, routes and ip_forward setting stay out of the real host. Entering it costs one
// `nsenter --net=` exec (not `ip netns exec`, which also copies the mount table and remounts /sys:
// slower, and slower still with many namespaces mounted); that cost is sampled between attachments
// and its median subtracted in the figures.
import { rmdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { addresses } from '../../sdk/tools/sandbox/shell.js';
import type { BenchContext } from '../context.js';
import { addNetns, deleteNetns } from '../netns.js';
import { run } from '../proc.js';
import { summarize } from '../stats.js';
import { CNI_DIR } from '../tools.js';

const WARMUP = 3;

export async function runCni(ctx: BenchContext): Promise<void> {
  const prefix = `${ctx.mesh?.sb.id ?? `nsmb${process.pid}`}-cni`;
  const hostNs = `${prefix}host`;
  const n = ctx.opts.n;
  const pods = Array.from({ length: n + WARMUP }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
  const dataDir = `/run/nsm-bench-cni/${prefix}`;
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'nsm-bench',
    type: 'ptp',
    ipMasq: false,
    mtu: 1500,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.199.0.0/16' }]], dataDir },
  });
  const version =
    (
      await run('dpkg-query', ['-W', '-f', ['$', '{Version}'].join(''), 'containernetworking-plugins']).catch(
        () => undefined,
      )
    )?.stdout.trim() || 'unknown version';
  ctx.log(
    `cni: ${n} × (ADD then DEL) with ${CNI_DIR}/ptp + host-local (containernetworking-plugins ${version})`,
  );
  await addNetns([hostNs, ...pods]);
  try {
    const enter = ['nsenter', `--net=/var/run/netns/${hostNs}`];
    const exec: number[] = [];
    const sampleExec = async () => exec.push((await run(enter[0], [...enter.slice(1), '/bin/true'])).ms);
    const cni = (command: 'ADD' | 'DEL', netns: string, id: string) =>
      run(enter[0], [...enter.slice(1), `${CNI_DIR}/ptp`], {
        input: conf,
        timeoutMs: 30_000,
        env: {
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          CNI_COMMAND: command,
          CNI_CONTAINERID: id,
          CNI_NETNS: `/var/run/netns/${netns}`,
          CNI_IFNAME: 'eth0',
          CNI_PATH: CNI_DIR,
        },
      });
    const add: number[] = [];
    const del: number[] = [];
    let failures = 0;
    let verifyProblem: string | undefined;
    for (let i = 0; i < pods.length; i++) {
      if (i >= WARMUP) await sampleExec();
      const id = `nsmbench${i}`;
      const a = await cni('ADD', pods[i], id);
      if (a.code !== 0) {
        failures++;
        if (failures <= 3) ctx.errors.push(`cni ADD: ${(a.stderr || a.stdout).trim()}`);
        continue;
      }
      if (i === WARMUP) {
        const ip = (JSON.parse(a.stdout) as { ips?: { address: string }[] }).ips?.[0]?.address;
        const have: string[] = await addresses(pods[i], 'eth0').catch(() => []);
        if (!ip || !have.includes(ip))
          verifyProblem = `eth0 has ${have.join(', ') || 'nothing'}, CNI said ${ip}`;
      }
      const d = await cni('DEL', pods[i], id);
      if (d.code !== 0) {
        failures++;
        if (failures <= 3) ctx.errors.push(`cni DEL: ${(d.stderr || d.stdout).trim()}`);
        continue;
      }
      if (i >= WARMUP) {
        add.push(a.ms);
        del.push(d.ms);
      }
    }
    ctx.data.cni = {
      add: summarize(add),
      del: summarize(del),
      execOverhead: summarize(exec),
      failures,
      verifyProblem,
      pluginVersion: `containernetworking-plugins ${version}`,
    };
    ctx.log(
      `  ADD p50 ${ctx.data.cni.add.p50.toFixed(1)} ms, DEL p50 ${ctx.data.cni.del.p50.toFixed(1)} ms (incl. nsenter p50 ${ctx.data.cni.execOverhead.p50.toFixed(1)} ms)`,
    );
  } finally {
    await deleteNetns([hostNs, ...pods]);
    rmSync(dataDir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(dataDir)); // only if no other run uses it
    } catch {}
  }
}
