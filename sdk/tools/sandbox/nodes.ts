// The sandbox's nodes: one namespace per node, its eth0 a veth on the sandbox's bridge (in
// `<id>-net`), an address in the sandbox's /24, and where its daemons' sockets go.
import { join } from 'node:path';
import type { Daemon } from './daemon.js';
import { ipBatch } from './shell.js';

export interface SandboxNode {
  name: string;
  netns: string;
  ip: string;
  nsmgrSocket: string;
  nsmgrURL: string;
  forwarderSocket: string;
  /** The nsmgr's NSM_EXCLUDED_PREFIXES_FILE (absent until a test writes it). */
  excludedPrefixesFile: string;
  nsmgr?: Daemon;
  forwarder?: Daemon;
}

/** Creates `count` nodes (namespaces made through `addNetns`, which records them for teardown). */
export async function addNodes(
  id: string,
  subnet: string,
  runDir: string,
  count: number,
  addNetns: (name: string) => Promise<void>,
): Promise<SandboxNode[]> {
  const nodes: SandboxNode[] = [];
  const net = `${id}-net`; // the bridge's namespace, made by the sandbox
  for (let i = 1; i <= count; i++) {
    const name = `node${i}`;
    const netns = `${id}-${name}`;
    await addNetns(netns);
    const ip = `${subnet}.${i}`;
    await ipBatch([`link add ${id}n${i} netns ${netns} type veth peer name ${id}b${i} netns ${net}`]);
    await ipBatch([`link set ${id}n${i} name eth0`, 'link set eth0 up', `addr add ${ip}/24 dev eth0`], netns);
    await ipBatch([`link set ${id}b${i} master br0`, `link set ${id}b${i} up`], net);
    const dir = join(runDir, name);
    nodes.push({
      name,
      netns,
      ip,
      nsmgrSocket: join(dir, 'nsm.io.sock'),
      nsmgrURL: `tcp://${ip}:5001`,
      forwarderSocket: join(dir, 'forwarder.sock'),
      excludedPrefixesFile: join(dir, 'excluded_prefixes.yaml'),
    });
  }
  return nodes;
}
