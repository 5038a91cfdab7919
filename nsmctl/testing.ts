// A stand-in nsmgr for nsmctl's unit tests and its benchmark: the real gRPC services (MonitorConnections
// from a ConnectionMonitor, both registries from the in-memory store) on a unix socket, holding
// whatever connections and registrations the test gives it. No kernel, no root.

import { status } from '@grpc/grpc-js';
import type { Connection } from '../api/gen/networkservice/connection.js';
import type { NetworkService, NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { background } from '../sdk/core/context.js';
import type { NetworkServiceServer } from '../sdk/core/types.js';
import { NsmError } from '../sdk/errors/index.js';
import { addNetworkServiceServices } from '../sdk/grpc/networkservice-server.js';
import { addRegistryServices } from '../sdk/grpc/registry-server.js';
import { type Served, serve } from '../sdk/grpc/server.js';
import { ConnectionMonitor } from '../sdk/networkservice/monitor/monitor.js';
import * as memory from '../sdk/registry/memory/index.js';

export interface FakeNsmgr extends AsyncDisposable {
  url: string;
  monitor: ConnectionMonitor;
  served: Served;
  close(): Promise<void>;
}

const refuse: NetworkServiceServer = {
  request: async () => {
    throw new NsmError(status.UNIMPLEMENTED, 'the fake nsmgr does not serve Request');
  },
  close: async () => {
    throw new NsmError(status.UNIMPLEMENTED, 'the fake nsmgr does not serve Close');
  },
};

export async function fakeNsmgr(
  socket: string,
  held: { connections?: Connection[]; endpoints?: NetworkServiceEndpoint[]; services?: NetworkService[] },
): Promise<FakeNsmgr> {
  const monitor = new ConnectionMonitor();
  for (const c of held.connections ?? []) monitor.update(c);
  const nse = memory.newNseServer();
  const ns = memory.newNsServer();
  for (const e of held.endpoints ?? []) await nse.register(background(), e);
  for (const s of held.services ?? []) await ns.register(background(), s);
  const served = await serve({
    listenOn: [`unix://${socket}`],
    register: (s, ctx) => {
      addNetworkServiceServices(s, refuse, monitor, ctx);
      addRegistryServices(s, { ns, nse }, ctx);
    },
  });
  const close = () => served.close();
  return { url: `unix://${socket}`, monitor, served, close, [Symbol.asyncDispose]: close };
}
