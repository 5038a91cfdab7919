// 6. The baseline a user would pick instead: the real CNI `ptp` plugin with `host-local` IPAM
// (Debian containernetworking-plugins) attaching eth0 to a fresh namespace, ADD then DEL, the same
// number of times as our sequential local requests. The plugin runs as a container runtime runs it
// (exec, config on stdin, CNI_* in the environment), but inside a scratch "host" namespace so that
// its host ends, routes and ip_forward setting stay out of the real host. Entering it costs one
// `nsenter --net=` exec (not `ip netns exec`, which also copies the mount table and remounts /sys:
// slower, and slower still with many namespaces mounted); that cost is sampled between attachments.
// The figures show both the whole exec (what a runtime pays: our target) and the figure net of it.
//
// Two more baselines from the same scratch namespace:
// - the iproute2 floor: the same veth + address + route work typed by hand, two `ip -batch`
//   processes (host side, then pod side), timed as a whole, into fresh namespaces;
// - ADD run `--cni-concurrency` at once (each into its own fresh namespace), the rate a runtime
//   attaching that many pods at once gets: the baseline of the concurrency part.
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
  const floorPods = Array.from({ length: n + WARMUP }, (_, i) => `${prefix}f${String(i).padStart(4, '0')}`);
  const many = ctx.opts.cniConcurrency;
  const manyPods = Array.from({ length: many }, (_, i) => `${prefix}c${String(i).padStart(4, '0')}`);
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
  await addNetns([hostNs, ...pods, ...floorPods, ...manyPods]);
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
    // The floor: what the plugin does, by hand with iproute2 (host end in the scratch host namespace,
    // pod end configured inside the pod), one fresh pod each time.
    const floor: number[] = [];
    for (let i = 0; i < floorPods.length; i++) {
      const pod = `/var/run/netns/${floorPods[i]}`;
      const host = `10.198.${i >> 8}.${i & 255}`;
      const t0 = performance.now();
      const a = await run(enter[0], [...enter.slice(1), 'ip', '-batch', '-'], {
        input: `link add name fl${i} up type veth peer name eth0 netns ${pod}\naddr add 10.197.255.254/32 dev fl${i}\nroute add ${host}/32 dev fl${i} scope link\n`,
      });
      const b = await run('nsenter', [`--net=${pod}`, 'ip', '-batch', '-'], {
        input: `link set dev eth0 up\naddr add ${host}/16 dev eth0\nroute add default via 10.197.255.254 dev eth0 onlink\n`,
      });
      const ms = performance.now() - t0;
      if (a.code !== 0 || b.code !== 0) {
        failures++;
        if (failures <= 3) ctx.errors.push(`iproute2 floor: ${(a.stderr || b.stderr).trim()}`);
      } else if (i >= WARMUP) floor.push(ms);
    }
    // ADD `many` at once, each into its own fresh namespace (host-local IPAM takes a file lock, as it
    // does for a runtime starting that many pods).
    ctx.log(`  ${many} ADDs at once`);
    const started = performance.now();
    const results = await Promise.all(manyPods.map((pod, i) => cni('ADD', pod, `nsmbenchc${i}`)));
    const wallMs = performance.now() - started;
    const ok = results.filter((r) => r.code === 0);
    if (ok.length < results.length) {
      ctx.errors.push(
        `cni ${many} at once: ${results.length - ok.length} failed: ${results.find((r) => r.code !== 0)?.stderr.trim()}`,
      );
    }
    await Promise.all(manyPods.map((pod, i) => cni('DEL', pod, `nsmbenchc${i}`)));
    ctx.data.cni = {
      add: summarize(add),
      del: summarize(del),
      execOverhead: summarize(exec),
      failures,
      verifyProblem,
      pluginVersion: `containernetworking-plugins ${version}`,
      floor: summarize(floor),
      concurrent: {
        n: many,
        ok: ok.length,
        wallMs,
        perSecond: ok.length / (wallMs / 1000),
        add: summarize(ok.map((r) => r.ms)),
      },
    };
    ctx.log(
      `  ADD p50 ${ctx.data.cni.add.p50.toFixed(1)} ms, DEL p50 ${ctx.data.cni.del.p50.toFixed(1)} ms (incl. nsenter p50 ${ctx.data.cni.execOverhead.p50.toFixed(1)} ms); iproute2 floor p50 ${ctx.data.cni.floor?.p50.toFixed(1)} ms; ${many} at once: ${ctx.data.cni.concurrent?.perSecond.toFixed(0)}/s`,
    );
  } finally {
    await deleteNetns([hostNs, ...pods, ...floorPods, ...manyPods]);
    rmSync(dataDir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(dataDir)); // only if no other run uses it
    } catch {}
  }
}
