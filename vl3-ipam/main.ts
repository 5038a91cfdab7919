// vl3-ipam binary: `node dist/vl3-ipam/main.js`, configured by NSM_* variables (vl3-ipam/config.ts).
import { runDaemon } from '../sdk/tools/daemon.js';
import { vl3IpamSchema } from './config.js';
import { startVl3Ipam } from './server.js';

await runDaemon('vl3-ipam', vl3IpamSchema, (c) =>
  startVl3Ipam({ listenOn: c.listenOn, prefix: c.prefix, sliceLength: c.sliceLength, leaseMs: c.leaseMs }),
);
