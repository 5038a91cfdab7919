// What a restarted replica finds of its members in the kernel: the forwarder's links into this
// namespace (alias "nsm:…:endpoint") survive the endpoint process, each with a host route to its
// member's address. Those addresses are reserved (vl3ipam SliceAddresses.reserve) until the members
// refresh and claim them, so a new member never gets an address that is still in use.
import { type Dataplane, newDataplane, newIpRunner } from '../../sdk/kernel/index.js';
import { parseCidr } from '../../sdk/tools/ippool/ip.js';

/** Host addresses ("172.16.0.5/32") routed to member interfaces in our namespace, inside `slice`. */
export async function memberAddressesInKernel(slice: string, dataplane?: Dataplane): Promise<string[]> {
  const runner = dataplane ? undefined : newIpRunner({ longLived: false });
  const dp = dataplane ?? newDataplane({ runner });
  try {
    const net = parseCidr(slice);
    const links = (await dp.listLinks(null)).filter(
      (l) => l.alias?.startsWith('nsm:') && l.alias.endsWith(':endpoint'),
    );
    const out: string[] = [];
    for (const l of links) {
      for (const r of await dp.linkRoutes(null, l.name)) {
        const [addr, len] = r.prefix.split('/');
        if (r.family !== net.family || Number(len) !== (net.family === 4 ? 32 : 128)) continue;
        const c = parseCidr(`${addr}/${len}`);
        if (c.first >= net.first && c.last <= net.last) out.push(r.prefix);
      }
    }
    return out;
  } finally {
    await runner?.close();
  }
}
