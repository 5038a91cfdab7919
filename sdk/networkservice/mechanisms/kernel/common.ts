// Pure planning for the forwarder's KERNEL↔KERNEL connection: one veth pair, each end born in its
// pod's namespace, sized and configured from the connection context. No I/O: the namespaces were
// resolved when the mechanisms arrived (see forwarder.ts), so tests call this without root.

import type { Connection, Mechanism } from '../../../../api/gen/networkservice/connection.js';
import { invalidArgument } from '../../../errors/index.js';
import {
  type End,
  interfaceConfig,
  type KernelPlan,
  linkAlias,
  macFor,
  type PlanInput,
  type PlannedEnd,
} from '../../xconnect/mechanism.js';
import { generateInterfaceName, KERNEL, PARAM_NAME, validateInterfaceName } from '../common.js';

export interface VethPlan extends KernelPlan {
  readonly kind: 'veth';
  readonly client: PlannedEnd;
  readonly endpoint: PlannedEnd;
}

/** The interface name a KERNEL mechanism asks for, generated (upstream's way) when it names none. */
export function interfaceName(conn: Connection, m: Mechanism, where: string): string {
  const name = m.parameters[PARAM_NAME] ?? '';
  validateInterfaceName(name, `${where} parameter "name"`);
  return name || generateInterfaceName(conn.networkService);
}

/** The namespace of a KERNEL end; `accept`/`resolve` always set it. */
export function netnsOf(end: End, where: string) {
  if (!end.netns) throw invalidArgument(`${where} KERNEL mechanism has no resolved network namespace`);
  return end.netns;
}

/**
 * Both ends KERNEL: a veth pair. The MTU is the context's, else `vethMtu`. IP payload gets static
 * neighbours for the peer's addresses (the MACs derive from the connection id, known up front).
 */
export function planVeth(input: PlanInput, vethMtu: number): VethPlan | undefined {
  const { conn, incoming, outgoing, owner } = input;
  if (incoming.mechanism.type !== KERNEL || outgoing.mechanism.type !== KERNEL) return undefined;
  const ipContext = conn.context?.ipContext;
  const mtu = conn.context?.MTU || vethMtu;
  const ip = conn.payload === 'IP';
  const clientMac = macFor(conn.id, 'client');
  const endpointMac = macFor(conn.id, 'endpoint');
  return {
    kind: 'veth',
    client: {
      netns: netnsOf(incoming, 'client'),
      name: incoming.mechanism.parameters[PARAM_NAME],
      alias: linkAlias(owner, conn.id, 'client'),
      mtu,
      mac: clientMac,
      config: interfaceConfig('client', ipContext, mtu, ip ? endpointMac : undefined, conn.id),
    },
    endpoint: {
      netns: netnsOf(outgoing, 'endpoint'),
      name: outgoing.mechanism.parameters[PARAM_NAME],
      alias: linkAlias(owner, conn.id, 'endpoint'),
      mtu,
      mac: endpointMac,
      config: interfaceConfig('endpoint', ipContext, mtu, ip ? clientMac : undefined),
    },
  };
}
