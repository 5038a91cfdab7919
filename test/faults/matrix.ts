import type { Daemon, Stream } from '../../sdk/tools/sandbox/sandbox.js';
import { links, sh } from '../../sdk/tools/sandbox/shell.js';
import { close, kernelMechanism, newConnection, request } from '../e2e/helpers.js';
import type { Cell, CellResult, RunOptions } from './cells.js';
import {
  closeSandbox,
  ECHO_PORT,
  keepLogs,
  monitoredConnections,
  registeredEndpoints,
  SERVICE,
  sleep,
  until,
} from './common.js';
import { addedLinks, interfaceAddresses, leftoversAfter, sandboxState } from './kernel.js';
import { connectionLinks, faultNode, podOf, type Setup, setUp } from './setup.js';
import { FAULT_ENV, REPLY_FRESH_MS, STREAM_INTERVAL_MS, timing } from './timing.js';

export type { Cell, CellResult, RunOptions } from './cells.js';
export { matrix } from './cells.js';
export { closeOpenSandboxes } from './common.js';

/** Runs one cell on a fresh sandbox; never throws for a broken promise (see `failures`). */
export async function runCell(cell: Cell, opts: RunOptions = {}): Promise<CellResult> {
  const env = opts.env ?? FAULT_ENV;
  const t = timing(env);
  const t0 = Date.now();
  const timeline: string[] = [];
  const note = (line: string) => {
    const l = `+${((Date.now() - t0) / 1000).toFixed(2)}s ${line}`;
    timeline.push(l);
    opts.log?.(`  [${cell.id}] ${l}`);
  };
  const result: CellResult = {
    cell,
    sandbox: '',
    env,
    failures: [],
    lost: null,
    sent: null,
    noTrafficMs: null,
    longestGapMs: null,
    restoreMs: null,
    cleanupMs: null,
    reconnected: null,
    registrationsBack: null,
    newConnections: null,
    endpointBefore: '',
    endpointAfter: '',
    addressesBefore: { client: [], endpoint: [] },
    addressesAfter: null,
    addressesKept: null,
    interfacesKept: null,
    stray: [],
    leaked: [],
    stream: null,
    faultAt: 0,
    timeline,
  };
  const fail = (why: string) => {
    const short = why.length > 700 ? `${why.slice(0, 700)}…` : why;
    note(`FAILED: ${short}`);
    result.failures.push(short);
  };
  let s: Setup;
  try {
    s = await setUp(cell, env);
  } catch (e) {
    fail(`scenario error: sandbox set-up failed: ${e instanceof Error ? e.message : String(e)}`);
    return result;
  }
  const { sb } = s;
  result.sandbox = sb.id;
  note(`sandbox ${sb.id} ready`);
  let stream: Stream | undefined;
  let nsc: Daemon | undefined;
  try {
    const started = await sb.startClient(s.clientPod, `kernel://${SERVICE}/nsm-1`);
    nsc = started.daemon;
    const clientName = s.clientPod.name;
    note(`connected to ${started.connections[0].networkServiceEndpointName}`);

    stream = await sb.startStream(s.clientPod, '@nsm-1', ECHO_PORT, STREAM_INTERVAL_MS);
    const flowing = await until(
      async () => ((await stream!.stats()).received > 0 ? true : undefined),
      t.lifetimeMs,
    );
    if (!flowing) {
      const st = await stream.stats();
      const routes = await sh('ip', ['-n', s.clientPod.netns, '-br', 'route']).catch((e: Error) => e.message);
      const addrs = await sh('ip', ['-n', s.clientPod.netns, '-br', 'addr']).catch((e: Error) => e.message);
      throw new Error(
        `no traffic over the connection before the fault (target "${st.target}", sent ${st.sent}, send errors ${st.sendErrors}; client pod addresses: ${addrs.trim().replace(/\s+/g, ' ')}; routes: ${routes.trim().replace(/\n/g, '; ')})`,
      );
    }

    // A steady state before the fault: a refresh period of traffic without an outage, exactly the
    // connection's two interfaces, with addresses, and the same ones at both ends of that window (on
    // a loaded machine a first connection can still be healed or re-made right after it was made).
    const steady = await until(
      async () => {
        const st0 = await stream!.stats();
        const k0 = await sandboxState(sb);
        await sleep(t.steadyWindowMs);
        const st1 = await stream!.stats();
        const k1 = await sandboxState(sb);
        const l0 = connectionLinks(s, k0);
        const l1 = connectionLinks(s, k1);
        const one = (l: ReturnType<typeof connectionLinks>) =>
          l.client.length === 1 && l.endpoint.length === 1 && l.others.length === 0;
        if (!one(l0) || !one(l1)) return undefined;
        if (
          l0.client[0].ifindex !== l1.client[0].ifindex ||
          l0.endpoint[0].ifindex !== l1.endpoint[0].ifindex
        )
          return undefined;
        const replies = st1.received - st0.received;
        const outage = st1.gaps.some((g) => (g.to ?? st1.now) > st0.now && g.lost > 0);
        const quiet = outage || (st1.lastReplyAt ?? 0) < st1.now - REPLY_FRESH_MS;
        if (quiet || replies < (0.5 * t.steadyWindowMs) / STREAM_INTERVAL_MS) return undefined;
        const client = await interfaceAddresses(s.clientPod.netns, 'nsm-1');
        const endpoint = await interfaceAddresses(l1.endpoint[0].netns, l1.endpoint[0].ifname);
        if (client.length === 0 || endpoint.length === 0) return undefined;
        return { links: l1, addresses: { client, endpoint } };
      },
      t.recoveryMs,
      0,
    );
    if (!steady) {
      const now = await sandboxState(sb);
      throw new Error(
        `no steady connection before the fault: interfaces ${JSON.stringify(
          addedLinks(s.baseline, now).map((l) => `${podOf(s, l.netns)}:${l.ifname}#${l.ifindex}`),
        )}`,
      );
    }
    const clientLink = steady.links.client[0];
    const endpointLink = steady.links.endpoint[0];
    result.addressesBefore = steady.addresses;
    result.endpointBefore = podOf(s, endpointLink.netns);

    // ---- the fault ----
    const node = faultNode(sb, cell);
    await stream.mark(); // lost datagrams count from here
    result.faultAt = Date.now();
    note(`fault: ${cell.description} (${cell.fault === 'registry' ? 'node1' : node.name})`);
    let faultDoneAt = result.faultAt;
    let recoveredAt = result.faultAt;
    const gone = (d: Daemon | undefined) => {
      d?.kill('SIGKILL');
      return d ? d.exited() : Promise.resolve(null);
    };
    switch (cell.fault) {
      case 'forwarder':
        await gone(node.forwarder);
        faultDoneAt = Date.now();
        await sb.startForwarder(node).then(
          () => note('forwarder restarted'),
          (e: Error) => fail(`forwarder restart: ${e.message}`),
        );
        break;
      case 'nsmgr':
        await gone(node.nsmgr);
        faultDoneAt = Date.now();
        await sb.startNsmgr(node).then(
          () => note('nsmgr restarted'),
          (e: Error) => fail(`nsmgr restart: ${e.message}`),
        );
        break;
      case 'registry':
        await gone(sb.registry);
        faultDoneAt = Date.now();
        await sb.restartRegistry().then(
          () => note('registry restarted'),
          (e: Error) => fail(`registry restart: ${e.message}`),
        );
        break;
      case 'endpoint': {
        const name = result.endpointBefore;
        await Promise.all([gone(s.nseDaemons.get(name)), gone(s.echo.get(name))]);
        faultDoneAt = Date.now();
        break;
      }
      case 'client':
        await gone(nsc);
        faultDoneAt = Date.now();
        break;
      case 'dataplane-interrupt':
        await sh('ip', ['-n', s.clientPod.netns, 'link', 'set', 'nsm-1', 'down']);
        faultDoneAt = Date.now();
        break;
      case 'orphan':
        await Promise.all([gone(nsc), gone(node.nsmgr), gone(node.forwarder)]);
        faultDoneAt = Date.now();
        await sb.startNsmgr(node).then(
          () => note('nsmgr restarted'),
          (e: Error) => fail(`nsmgr restart: ${e.message}`),
        );
        await sb.startForwarder(node).then(
          () => note('forwarder restarted'),
          (e: Error) => fail(`forwarder restart: ${e.message}`),
        );
        break;
    }
    note('fault injected');

    // ---- recovery ----
    if (cell.promise === 'cleaned-up') {
      // Poll just the two namespaces (one `ip link` each), so the measurement adds little.
      const ends = [clientLink, endpointLink];
      // Client death: the token expires, then the close runs. Orphans: scan, grace period, sweep.
      const deadline = cell.fault === 'orphan' ? t.orphanCleanupMs : t.cleanupMs;
      const clean = await until(
        async () => {
          const present = await Promise.all(
            ends.map(async (e) => (await links(e.netns)).some((l) => l.ifname === e.ifname)),
          );
          return present.some(Boolean) ? undefined : Date.now();
        },
        deadline,
        20,
      );
      if (clean === undefined) fail(`the connection's interfaces still exist ${deadline} ms after the fault`);
      else {
        result.cleanupMs = clean - faultDoneAt;
        note(`interfaces gone after ${result.cleanupMs} ms`);
      }
      const st = await stream.stop();
      stream = undefined;
      result.stream = st;
      result.sent = st.sent;
    } else {
      if (cell.promise === 'restored') {
        const back = await until(async () => {
          const st = await stream!.stats();
          return st.lastReplyAt !== null &&
            st.lastReplyAt > faultDoneAt + 2 * STREAM_INTERVAL_MS &&
            st.now - st.lastReplyAt < REPLY_FRESH_MS
            ? st.lastReplyAt
            : undefined;
        }, t.recoveryMs);
        if (back === undefined) fail(`traffic not restored within ${t.recoveryMs} ms`);
        else {
          recoveredAt = back;
          note(`traffic back ${back - result.faultAt} ms after the fault`);
        }
      }
      if (cell.restart) {
        const holder =
          cell.fault === 'forwarder'
            ? `unix://${node.forwarderSocket}`
            : cell.fault === 'nsmgr'
              ? `unix://${node.nsmgrSocket}`
              : undefined;
        if (holder) {
          const ok = await until(async () => {
            const conns = await monitoredConnections(holder);
            return conns.some((c) => c.path?.pathSegments[0]?.name === clientName) ? true : undefined;
          }, t.recoveryMs);
          result.reconnected = ok === true;
          if (!ok) fail(`the restarted ${cell.fault} does not hold the connection within ${t.recoveryMs} ms`);
          else note(`restarted ${cell.fault} holds the connection`);
        }
        if (cell.fault === 'registry') {
          const want = ['forwarder-node1', 'forwarder-node2', 'nse-a', 'nse-b'];
          const names = await until(async () => {
            const got = await registeredEndpoints(sb.node('node1'));
            return want.every((w) => got.includes(w)) ? got : undefined;
          }, t.registrationsMs);
          result.registrationsBack = names !== undefined;
          if (!names) fail(`registrations not back within ${t.registrationsMs} ms (want ${want.join(', ')})`);
          else note('registrations back');
        }
        // New connections work through the restarted daemon (endpoints and forwarders reconnected).
        const fresh = await until(
          async () => {
            const c = await request(s.sparePod.node, newConnection(`spare-${Date.now()}`, SERVICE), [
              kernelMechanism({ name: 'spare', inodeURL: `file:///var/run/netns/${s.sparePod.netns}` }),
            ]);
            await close(s.sparePod.node, c);
            return true;
          },
          t.recoveryMs,
          t.refreshMs / 2,
        );
        result.newConnections = fresh === true;
        if (!fresh)
          fail(`no new connection could be made within ${t.recoveryMs} ms of the ${cell.fault} restart`);
        else note('a new connection works');
        recoveredAt = Date.now();
      }
      // Observe until every hop that was not refreshed since the fault would have expired (and its
      // close reached the kernel), and at least two refreshes after recovery (through the restarted
      // daemons): neither may disturb the traffic.
      const observeUntil = Math.max(result.faultAt + t.observeMs, recoveredAt + t.observeAfterRecoveryMs);
      if (Date.now() < observeUntil) await sleep(observeUntil - Date.now());
      // Every datagram still missing is lost by now (the probe counts one lost after lossAfterMs).
      await sleep((await stream.stats()).lossAfterMs + STREAM_INTERVAL_MS);
      const st = await stream.stats();
      result.stream = st;
      result.sent = st.sent;
      result.lost = st.lostSinceMark;
      result.longestGapMs = st.longestGapMs;
      // Outages: periods without replies in which datagrams were lost (not mere scheduling jitter).
      const after = st.gaps.filter((g) => (g.to ?? st.now) > result.faultAt && g.lost > 0);
      result.noTrafficMs = after.reduce((sum, g) => sum + g.ms, 0);
      const last = after.at(-1);
      result.restoreMs = !last ? 0 : last.to === null ? null : last.to - result.faultAt;
      note(
        `stream: sent ${st.sent}, lost ${st.lostSinceMark} since the fault (${st.lost} in all), outages after the fault ${JSON.stringify(after.map((g) => g.ms))} ms`,
      );
      if (cell.promise === 'uninterrupted' && st.lostSinceMark > 0) {
        fail(
          `${st.lostSinceMark} datagrams lost (promise: not one); outages ${JSON.stringify(after.map((g) => g.ms))} ms`,
        );
      }
      if (st.lastReplyAt === null || st.now - st.lastReplyAt > REPLY_FRESH_MS) {
        fail(
          `no traffic at the end of the observation (last reply ${st.lastReplyAt ? st.now - st.lastReplyAt : '-'} ms ago)`,
        );
      }

      // ---- the connection's state after recovery ----
      const now = await sandboxState(sb);
      const linksAfter = connectionLinks(s, now);
      const cl = linksAfter.client.find((l) => l.ifname === 'nsm-1');
      const el = linksAfter.endpoint[0];
      result.addressesAfter = {
        client: cl ? await interfaceAddresses(cl.netns, cl.ifname) : [],
        endpoint: el ? await interfaceAddresses(el.netns, el.ifname) : [],
      };
      result.endpointAfter = el ? podOf(s, el.netns) : '';
      result.addressesKept =
        JSON.stringify(result.addressesAfter) === JSON.stringify(result.addressesBefore) &&
        result.addressesBefore.client.length > 0;
      result.interfacesKept =
        !!cl &&
        !!el &&
        cl.ifindex === clientLink?.ifindex &&
        el.ifindex === endpointLink?.ifindex &&
        el.netns === endpointLink?.netns;
      if (cell.addressesKept && !result.addressesKept) {
        fail(
          `addresses changed: before ${JSON.stringify(result.addressesBefore)}, after ${JSON.stringify(result.addressesAfter)}`,
        );
      }
      if (cell.interfacesKept && !result.interfacesKept) {
        fail(
          `interfaces not kept: before client ifindex ${clientLink?.ifindex}, endpoint ${endpointLink?.ifname}#${endpointLink?.ifindex}; after client ${cl?.ifindex}, endpoint ${el?.ifname}#${el?.ifindex}`,
        );
      }
      if (cell.fault === 'endpoint' && result.endpointAfter === result.endpointBefore) {
        fail(`the connection still ends in the killed endpoint's pod (${result.endpointAfter})`);
      }
      const stray = [
        ...linksAfter.client.filter((l) => l !== cl),
        ...linksAfter.endpoint.filter((l) => l !== el),
        ...linksAfter.others,
      ].map((l) => `${podOf(s, l.netns)}: link ${l.ifname} ${l.kind} ${l.alias}`);
      if (!cl) stray.push('client pod: no nsm-1');
      if (!el) stray.push('endpoint pods: no interface');
      result.stray = stray;
      if (stray.length > 0) fail(`unexpected kernel state after recovery: ${stray.join('; ')}`);
      await stream.stop();
      stream = undefined;
    }

    // ---- close and check for leftovers ----
    if (nsc?.running) {
      await nsc.stop();
      note('client closed');
    }
    result.leaked = await leftoversAfter(sb, s.baseline, t.cleanupMs);
    if (result.leaked.length > 0) fail(`leaked kernel objects: ${result.leaked.join('; ')}`);
    else note('no kernel objects left');
  } catch (e) {
    fail(`scenario error: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await stream?.stop().catch(() => undefined);
    if (result.failures.length > 0 && opts.keepLogsOnFailure !== false) {
      result.logs = keepLogs(sb, cell.id.replace(/[/@]/g, '_'));
    }
    await closeSandbox(sb);
  }
  return result;
}
