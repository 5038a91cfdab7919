// passthrough binary: `node dist/examples/passthrough/main.js`, run inside the CNF's network
// namespace (it joins interfaces and switches on forwarding there), configured by NSM_* variables.
import { runDaemon } from '../../sdk/tools/daemon.js';
import { passthroughOptions, passthroughSchema } from './config.js';
import { startPassthrough } from './server.js';

await runDaemon('passthrough', passthroughSchema, (config) =>
  startPassthrough(passthroughOptions(config, 'passthrough')),
);
