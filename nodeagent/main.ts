// nodeagent binary: `node dist/nodeagent/main.js`, the nsmgr and the kernel forwarder of a node in
// one process. The nsmgr hands connections to the forwarder by a function call instead of a gRPC
// crossing each way (sdk/grpc/in-process.ts), and the node runs one Node.js process instead of two
// (each carries ~44 MiB of the node binary's own pages). Both still serve their sockets as the
// separate binaries do, so clients, endpoints, nsmctl and remote nsmgrs see no difference; what is
// lost is the forwarder's separate life (a forwarder restart is a restart of the nsmgr too).
import { hostname } from 'node:os';
import { startForwarder } from '../forwarder/server.js';
import { startNsmgr } from '../nsmgr/server.js';
import { ConfigError } from '../sdk/tools/config/index.js';
import { runDaemon } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';
import { withIdentity } from '../sdk/tools/spiffe/config.js';
import { nodeagentSchema } from './config.js';

const log = logger('nodeagent');

await runDaemon('nodeagent', nodeagentSchema, (config) => {
  const nsmgrSocket = config.listenOn.find((u) => u.startsWith('unix://'));
  if (!nsmgrSocket)
    throw new ConfigError(
      'NSM_LISTEN_ON',
      'must hold a unix URL (the forwarder inside registers with the nsmgr there)',
      config.listenOn.join(','),
    );
  return withIdentity(config, async () => {
    const nsmgr = await startNsmgr({
      name: config.name ?? `nsmgr-${hostname()}`,
      listenOn: config.listenOn,
      publicURL: config.publicURL,
      registryURL: config.registryURL,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      forwarderServiceName: config.forwarderServiceName,
      nodeName: config.nodeName ?? hostname(),
      allowForeignNetns: config.allowForeignNetns,
      operatorNetns: config.operatorNetns
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
      excludedPrefixesFile: config.excludedPrefixesFile,
      authzPolicyFile: config.authzPolicyFile,
    });
    const forwarder = await startForwarder({
      name: config.forwarderName ?? `forwarder-${hostname()}`,
      listenOn: config.forwarderListenOn,
      connectTo: nsmgrSocket,
      tunnelIP: config.tunnelIP,
      vxlanPort: config.vxlanPort,
      vethMtu: config.vethMtu,
      labels: config.labels,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      reconcileGraceMs: config.reconcileGrace,
      inProcess: true,
    }).catch(async (e: unknown) => {
      await nsmgr.close();
      throw e;
    });
    log.info({ nsmgr: nsmgr.urls, forwarder: forwarder.url }, 'nodeagent serving');
    return {
      close: async () => {
        await forwarder.close(); // unregisters through the nsmgr, so the nsmgr goes last
        await nsmgr.close();
      },
    };
  });
});
