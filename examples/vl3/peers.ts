// The vL3 replicas of one network connect to each other through the mesh itself: each replica asks
// for its own network service, naming the peer endpoint (`networkServiceEndpointName`) and carrying
// its slice in the `vl3Slice` label, so the peer's vl3ipam routes that slice back through the new
// interface. One link per pair: the replica whose name sorts first asks. Peers come from the registry
// (every `pollMs`); each poll also re-requests every peer link, which repairs one whose peer restarted
// (a peer link has no heal: reselecting another endpoint would join the wrong replica), and closes
// links to replicas that left the registry. A peer that died without leaving it (kill -9: its entry
// lives until it expires) answers the re-request with NOT_FOUND: its link is closed at once (the
// interface goes, DNS stops asking it) and requested afresh on a later poll once the peer (or a
// replacement under its name) is back. Links to other peers are not touched meanwhile, so members
// of the surviving replicas keep talking.
// "Same node first" for members is the NetworkService's business (nodeName matches, issue 11), not
// this file's: peers join every replica wherever it runs.
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Connection } from '../../api/gen/networkservice/connection.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import type { NetworkServiceClient } from '../../sdk/core/types.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import type { Finder } from '../../sdk/networkservice/discover/index.js';
import { PEER_LABEL } from '../../sdk/networkservice/ipam/vl3ipam/index.js';
import { CLS_LOCAL, KERNEL, mechanism } from '../../sdk/networkservice/mechanisms/common.js';
import { logger } from '../../sdk/tools/log.js';

const log = logger('vl3');

export interface PeersOptions {
  readonly name: string;
  readonly service: string;
  /** This replica's slice and its own address in it ("172.16.0.1/32"). */
  readonly slice: string;
  readonly address: string;
  readonly finder: Finder;
  /** A client chain towards the local nsmgr, with the KERNEL mechanism, without heal. */
  readonly chain: NetworkServiceClient;
  readonly pollMs: number;
  readonly requestTimeoutMs: number;
}

export interface Peers {
  /** Peer names with a working link, for DNS fan-out and tests. */
  connected(): Map<string, Connection>;
  close(): Promise<void>;
}

/** The interface name of the link to a peer (15 characters at most). */
export function peerInterface(peer: string): string {
  return `vl3-${createHash('sha256').update(peer).digest('hex').slice(0, 8)}`;
}

export function startPeers(opts: PeersOptions): Peers {
  const links = new Map<string, Connection>();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const connect = async (peer: string) => {
    const { ctx, cancel } = withTimeout(background(), opts.requestTimeoutMs);
    try {
      const previous = links.get(peer);
      const conn =
        previous ??
        Connection.fromPartial({
          id: `${opts.name}~${peer}`,
          networkService: opts.service,
          networkServiceEndpointName: peer,
          labels: { [PEER_LABEL]: opts.slice },
          context: { ipContext: { srcIpAddrs: [opts.address] } },
        });
      const got = await opts.chain.request(ctx, {
        connection: structuredClone(conn),
        mechanismPreferences: [mechanism(CLS_LOCAL, KERNEL, { name: peerInterface(peer) })],
      });
      if (!previous) log.info({ peer, id: got.id }, 'vL3 peer link up');
      links.set(peer, got);
    } catch (e) {
      if (links.has(peer) && getErrorCode(e) === status.NOT_FOUND) {
        log.info({ peer, err: getErrorMessage(e) }, 'vL3 peer gone; closing its link');
        cancel();
        return disconnect(peer);
      }
      log.info({ peer, err: getErrorMessage(e) }, 'vL3 peer link not up yet');
    } finally {
      cancel();
    }
  };

  const disconnect = async (peer: string) => {
    const conn = links.get(peer);
    links.delete(peer);
    if (!conn) return;
    const { ctx, cancel } = withTimeout(background(), opts.requestTimeoutMs);
    await opts.chain.close(ctx, conn).catch(() => undefined);
    cancel();
    log.info({ peer }, 'vL3 peer left');
  };

  const poll = async () => {
    const { ctx, cancel } = withTimeout(background(), opts.requestTimeoutMs);
    let names: string[];
    try {
      const nses = await opts.finder.endpoints(ctx, { networkServiceNames: [opts.service] });
      names = nses.map((n) => n.name).filter((n) => n !== opts.name);
    } catch (e) {
      log.info({ err: getErrorMessage(e) }, 'cannot list vL3 peers');
      return;
    } finally {
      cancel();
    }
    await Promise.all(names.filter((n) => opts.name < n).map(connect));
    await Promise.all([...links.keys()].filter((p) => !names.includes(p)).map(disconnect));
  };

  const loop = () => {
    if (closed) return;
    running = poll().finally(() => {
      if (!closed) timer = setTimeout(loop, opts.pollMs);
    });
  };
  loop();

  return {
    connected: () => links,
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
      await Promise.all([...links.keys()].map(disconnect));
    },
  };
}
