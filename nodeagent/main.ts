// nodeagent binary: `node dist/nodeagent/main.js`, the nsmgr and the kernel forwarder of a node in
// one process. The nsmgr hands connections to the forwarder by a function call instead of a gRPC
// crossing each way (sdk/grpc/in-process.ts), and the node runs one Node.js process instead of two
// (each carries ~44 MiB of the node binary's own pages). Both still serve their sockets as the
// separate binaries do, so clients, endpoints, nsmctl and remote nsmgrs see no difference; what is
// lost is the forwarder's separate life (a forwarder restart is a restart of the nsmgr too).
import { forwarderOptions } from '../forwarder/config.js';
import { startForwarder } from '../forwarder/server.js';
import { nsmgrOptions } from '../nsmgr/config.js';
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
    const nsmgr = await startNsmgr(nsmgrOptions(config));
    const forwarder = await startForwarder({
      ...forwarderOptions({
        ...config,
        name: config.forwarderName,
        listenOn: config.forwarderListenOn,
        connectTo: nsmgrSocket,
      }),
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
