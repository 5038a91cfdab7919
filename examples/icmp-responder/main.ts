// icmp-responder binary: `node dist/examples/icmp-responder/main.js`, run inside the endpoint's
// network namespace (e.g. `ip netns exec NAME node ...`).
import { runDaemon } from '../../sdk/tools/daemon.js';
import { withIdentity } from '../../sdk/tools/spiffe/config.js';
import { icmpResponderOptions, icmpResponderSchema } from './config.js';
import { startIcmpResponder } from './server.js';

await runDaemon('icmp-responder', icmpResponderSchema, (config) =>
  withIdentity(config, () => startIcmpResponder(icmpResponderOptions(config, 'icmp-responder'))),
);
