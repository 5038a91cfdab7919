// Lifecycle scenarios beyond kill -9 (issue 8): hung daemons (SIGSTOP for twice the token
// lifetime), the underlay of a node down, clients started while the registry restarts, and a
// client closing after a heal moved its connection to another endpoint. Each runs on its own
// sandbox (setup.ts) with a UDP stream through the connection where there is one; every wait comes
// from the configured lifetimes (timing.ts). What they measure: datagrams lost, time from the end
// of the fault until traffic is back, and leftovers in the kernel after the client closed.

import type { Daemon, Stream } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { close, kernelMechanism, newConnection, request } from '../e2e/helpers.js';
import type { Kind } from './cells.js';
import {
  closeSandbox,
  ECHO_PORT,
  endpointSocket,
  keepLogs,
  monitoredConnections,
  registeredEndpoints,
  SERVICE,
  sleep,
  until,
} from './common.js';
import { leftoversAfter } from './kernel.js';
import { podOf, setUp } from './setup.js';
import { FAULT_ENV, REPLY_FRESH_MS, STREAM_INTERVAL_MS, timing } from './timing.js';

export type LifecycleFault =
  | 'nsmgr-hang'
  | 'forwarder-hang'
  | 'endpoint-hang'
  | 'registry-hang'
  | 'underlay-down'
  | 'close-after-reselect'
  | 'client-during-registry-restart';

export interface LifecycleCell {
  id: string;
  kind: Kind;
  fault: LifecycleFault;
  /** Which node's daemon or underlay (remote connections). */
  node: 'node1' | 'node2';
  /** Not one datagram lost (no data-plane component touched). */
  zeroLoss: boolean;
  description: string;
}

/** How long a hang lasts: twice the token lifetime, so every lease the hung daemon serves runs out. */
export const hangMs = (lifetimeMs: number) => 2 * lifetimeMs;
/** The underlay is down this long (issue 8's run). */
export const UNDERLAY_DOWN_MS = 5_000;
/** Issue 8's target: traffic back within this of the fault's end (reported; see the checks). */
export const TRAFFIC_BACK_MS = 5_000;
/** Issue 8's target: a closed connection is gone from the endpoint within this (reported). */
export const ENDPOINT_FREED_MS = 1_000;

export function lifecycleCells(): LifecycleCell[] {
  const hang = (fault: LifecycleFault, kind: Kind, node: 'node1' | 'node2', what: string): LifecycleCell => ({
    id: `${kind}/${fault}${kind === 'remote' ? `@${node}` : ''}`,
    kind,
    fault,
    node,
    zeroLoss: true,
    description: `SIGSTOP the ${what} for 2× the token lifetime, then SIGCONT`,
  });
  return [
    hang('nsmgr-hang', 'local', 'node2', 'nsmgr'),
    hang('nsmgr-hang', 'remote', 'node1', 'nsmgr'),
    hang('forwarder-hang', 'local', 'node2', 'forwarder'),
    hang(
      'endpoint-hang',
      'local',
      'node2',
      'serving endpoint (refreshes through the forwarder are cancelled)',
    ),
    hang('registry-hang', 'local', 'node1', 'registry'),
    {
      id: 'remote/underlay-down@node2',
      kind: 'remote',
      fault: 'underlay-down',
      node: 'node2',
      zeroLoss: false,
      description: `the endpoint node's underlay (eth0) down for ${UNDERLAY_DOWN_MS} ms`,
    },
    {
      id: 'local/close-after-reselect',
      kind: 'local',
      fault: 'close-after-reselect',
      node: 'node2',
      zeroLoss: false,
      description:
        'kill -9 the serving endpoint, the client moves to the other; then the client stops (SIGTERM)',
    },
    {
      id: 'local/client-during-registry-restart',
      kind: 'local',
      fault: 'client-during-registry-restart',
      node: 'node1',
      zeroLoss: false,
      description: 'kill -9 the registry, start a client, restart the registry a second later',
    },
  ];
}

export interface LifecycleResult {
  cell: LifecycleCell;
  sandbox: string;
  failures: string[];
  lost: number | null;
  /** From the end of the fault until traffic was back (0: never interrupted; null: never). */
  backAfterEndMs: number | null;
  /** close-after-reselect: from the client's exit until the new endpoint held nothing of it. */
  freedMs: number | null;
  /** registry faults: from the end of the fault until every registration was there. */
  registrationsMs: number | null;
  /** nsmgr-hang: a new connection through the resumed nsmgr, first try, ms after SIGCONT. */
  newConnectionMs: number | null;
  /** client-during-registry-restart: from the registry restart until the client was connected. */
  connectedMs: number | null;
  leaked: string[];
  logs?: string;
  timeline: string[];
}

export async function runLifecycleCell(
  cell: LifecycleCell,
  opts: {
    env?: Record<string, string>;
    log?: (l: string) => void;
    /** Overrides for a run at a long lifetime (the default 10m): the hang and the observation window. */
    hangMs?: number;
    observeMs?: number;
  } = {},
): Promise<LifecycleResult> {
  const env = opts.env ?? FAULT_ENV;
  const t = { ...timing(env), ...(opts.observeMs ? { observeMs: opts.observeMs } : {}) };
  const hangFor = opts.hangMs ?? hangMs(t.lifetimeMs);
  const t0 = Date.now();
  const r: LifecycleResult = {
    cell,
    sandbox: '',
    failures: [],
    lost: null,
    backAfterEndMs: null,
    freedMs: null,
    registrationsMs: null,
    newConnectionMs: null,
    connectedMs: null,
    leaked: [],
    timeline: [],
  };
  const note = (l: string) => {
    const line = `+${((Date.now() - t0) / 1000).toFixed(2)}s ${l}`;
    r.timeline.push(line);
    opts.log?.(`  [${cell.id}] ${line}`);
  };
  const fail = (why: string) => {
    note(`FAILED: ${why}`);
    r.failures.push(why);
  };
  let s: Awaited<ReturnType<typeof setUp>>;
  try {
    s = await setUp(cell, env);
  } catch (e) {
    fail(`scenario error: sandbox set-up failed: ${e instanceof Error ? e.message : String(e)}`);
    return r;
  }
  const { sb } = s;
  r.sandbox = sb.id;
  let stream: Stream | undefined;
  let nsc: Daemon | undefined;
  const stopped: Daemon[] = [];
  const node = sb.node(cell.node);
  try {
    if (cell.fault === 'client-during-registry-restart') {
      sb.registry?.kill('SIGKILL');
      await sb.registry?.exited();
      note('registry killed; starting a client');
      const starting = sb.startClient(s.clientPod, `kernel://${SERVICE}/nsm-1`);
      await sleep(1_000);
      await sb.restartRegistry();
      const restartedAt = Date.now();
      note('registry restarted');
      const started = await starting.catch((e: Error) => {
        fail(`the client did not connect: ${e.message}`);
        return undefined;
      });
      if (started) {
        nsc = started.daemon;
        r.connectedMs = Date.now() - restartedAt;
        note(`client connected ${r.connectedMs} ms after the registry restart`);
        // Reported against TRAFFIC_BACK_MS; the promise tested here is that it connects at all (it
        // used to exit 1), within its request timeout.
      }
    } else {
      const started = await sb.startClient(s.clientPod, `kernel://${SERVICE}/nsm-1`);
      nsc = started.daemon;
      const endpointBefore = started.connections[0].networkServiceEndpointName;
      note(`connected to ${endpointBefore}`);
      stream = await sb.startStream(s.clientPod, '@nsm-1', ECHO_PORT, STREAM_INTERVAL_MS);
      const flowing = await until(
        async () => ((await stream!.stats()).received > 0 ? true : undefined),
        t.lifetimeMs,
      );
      if (!flowing) throw new Error('no traffic over the connection before the fault');
      await sleep(t.steadyWindowMs); // a refresh went through before the fault
      await stream.mark();
      const faultAt = Date.now();
      let endAt = faultAt;
      const hang = async (d: Daemon | undefined) => {
        if (!d) throw new Error('no daemon to stop');
        stopped.push(d);
        d.kill('SIGSTOP');
        note(`${d.name} stopped`);
        await sleep(hangFor);
        d.kill('SIGCONT');
        endAt = Date.now();
        note(`${d.name} resumed`);
      };
      switch (cell.fault) {
        case 'nsmgr-hang':
          await hang(node.nsmgr);
          break;
        case 'forwarder-hang':
          await hang(node.forwarder);
          break;
        case 'endpoint-hang':
          await hang(s.nseDaemons.get(endpointBefore));
          break;
        case 'registry-hang':
          await hang(sb.registry);
          break;
        case 'underlay-down':
          await sh('ip', ['-n', node.netns, 'link', 'set', 'eth0', 'down']);
          note('underlay down');
          await sleep(UNDERLAY_DOWN_MS);
          await sh('ip', ['-n', node.netns, 'link', 'set', 'eth0', 'up']);
          endAt = Date.now();
          note('underlay up');
          break;
        case 'close-after-reselect': {
          const pod = podOf(s, s.nsePods.find((p) => p.name === endpointBefore)?.netns ?? '');
          for (const d of [s.nseDaemons.get(pod), s.echo.get(pod)]) d?.kill('SIGKILL');
          await Promise.all([s.nseDaemons.get(pod)?.exited(), s.echo.get(pod)?.exited()]);
          endAt = Date.now();
          note(`endpoint ${pod} killed`);
          break;
        }
      }
      if (cell.fault === 'nsmgr-hang') {
        // The resumed nsmgr serves new connections at once: no "no forwarder" window.
        const c = await request(s.sparePod.node, newConnection(`spare-${Date.now()}`, SERVICE), [
          kernelMechanism({ name: 'spare', inodeURL: `file:///var/run/netns/${s.sparePod.netns}` }),
        ]).catch((e: Error) => {
          fail(`a new connection right after the nsmgr resumed failed: ${e.message}`);
          return undefined;
        });
        if (c) {
          r.newConnectionMs = Date.now() - endAt;
          note(`a new connection works ${r.newConnectionMs} ms after SIGCONT`);
          await close(s.sparePod.node, c);
        }
      }
      if (cell.fault === 'registry-hang') {
        const want = ['forwarder-node1', 'forwarder-node2', 'nse-a', 'nse-b'];
        const ok = await until(async () => {
          const got = await registeredEndpoints(sb.node('node1'));
          return want.every((w) => got.includes(w)) ? true : undefined;
        }, TRAFFIC_BACK_MS);
        if (ok) r.registrationsMs = Date.now() - endAt;
        else fail(`registrations not all back within ${TRAFFIC_BACK_MS} ms of the registry resuming`);
      }
      // Watch long enough that every hop that missed refreshes would have expired (and been healed).
      const observeUntil = Math.max(endAt + t.observeMs, faultAt + t.observeMs);
      await sleep(Math.max(0, observeUntil - Date.now()));
      await sleep((await stream.stats()).lossAfterMs + STREAM_INTERVAL_MS);
      const st = await stream.stats();
      r.lost = st.lostSinceMark;
      // Outages: gaps with lost datagrams; a gap still open but younger than REPLY_FRESH_MS is jitter.
      const outages = st.gaps.filter(
        (g) => (g.to ?? st.now) > faultAt && g.lost > 0 && (g.to !== null || g.ms > REPLY_FRESH_MS),
      );
      const last = outages.at(-1);
      r.backAfterEndMs = !last ? 0 : last.to === null ? null : Math.max(0, last.to - endAt);
      note(
        `lost ${st.lostSinceMark}; outages ${JSON.stringify(outages.map((g) => g.ms))} ms; back ${r.backAfterEndMs} ms after the fault ended`,
      );
      // Not one datagram lost while a hung control-plane hop resumes, also with every core busy.
      if (cell.zeroLoss && st.lostSinceMark > 0)
        fail(`${st.lostSinceMark} datagrams lost (promise: not one)`);
      if (r.backAfterEndMs === null || st.lastReplyAt === null || st.now - st.lastReplyAt > REPLY_FRESH_MS) {
        fail('no traffic at the end');
      } else if (r.backAfterEndMs > t.recoveryMs) {
        // The tier enforces the deadline derived from the lifetimes (heal notices, then one request);
        // issue 8's 5 s (TRAFFIC_BACK_MS) is measured and reported: a shared 2-core machine under
        // load misses fixed numbers for reasons of its own.
        fail(`traffic back only ${r.backAfterEndMs} ms after the fault ended (deadline ${t.recoveryMs})`);
      }
      await stream.stop();
      stream = undefined;
    }

    // ---- close, then check for leftovers ----
    const holder = s.nsePods.find((p) => s.nseDaemons.get(p.name)?.running);
    if (nsc?.running) {
      await nsc.stop();
      const exitedAt = Date.now();
      note(`client stopped (exit ${nsc.exitCode})`);
      if (cell.fault === 'close-after-reselect' && holder) {
        // The endpoint the heal moved to frees the connection (and its addresses) at once.
        const url = endpointSocket(sb, holder);
        const freed = await until(async () => {
          const held = await monitoredConnections(url);
          return held.some((c) => c.path?.pathSegments[0]?.name === s.clientPod.name) ? undefined : true;
        }, t.cleanupMs);
        if (!freed)
          fail(`${holder.name} still holds the connection ${t.cleanupMs} ms after the client stopped`);
        else {
          r.freedMs = Date.now() - exitedAt;
          note(`${holder.name} freed the connection ${r.freedMs} ms after the client exited`);
          // Before the fix the endpoint kept it until the token expired, at least a lifetime minus a
          // refresh period after the last refresh; a refresh period tells the two apart with room for
          // a loaded machine. Issue 8's 1 s (ENDPOINT_FREED_MS) is measured and reported.
          if (r.freedMs > t.refreshMs) fail(`the endpoint freed the connection only after ${r.freedMs} ms`);
        }
      }
    }
    r.leaked = await leftoversAfter(sb, s.baseline, t.cleanupMs);
    if (r.leaked.length > 0) fail(`leaked kernel objects: ${r.leaked.join('; ')}`);
  } catch (e) {
    fail(`scenario error: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    for (const d of stopped) d.kill('SIGCONT');
    await stream?.stop().catch(() => undefined);
    if (cell.fault === 'underlay-down')
      await sh('ip', ['-n', node.netns, 'link', 'set', 'eth0', 'up']).catch(() => '');
    if (r.failures.length > 0) r.logs = keepLogs(sb, cell.id.replace(/[/@]/g, '_'));
    await closeSandbox(sb);
  }
  return r;
}
