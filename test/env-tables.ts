// Renders the README's env tables from the binaries' config schemas (`npm run env-tables`);
// test/readme.test.ts checks that the README carries exactly these tables.

import { firewallSchema } from '../examples/firewall/config.js';
import { icmpResponderSchema } from '../examples/icmp-responder/config.js';
import { nscK8sSchema } from '../examples/k8s/nsc/config.js';
import { l7GatewaySchema } from '../examples/l7-gateway/config.js';
import { nscSchema } from '../examples/nsc/config.js';
import { passthroughSchema } from '../examples/passthrough/config.js';
import { vl3Schema } from '../examples/vl3/config.js';
import { forwarderSchema } from '../forwarder/config.js';
import { nodeagentSchema } from '../nodeagent/config.js';
import { nsmgrSchema } from '../nsmgr/config.js';
import { applySchema } from '../registry/apply/config.js';
import { registrySchema } from '../registry/config.js';
import { envTable } from '../sdk/tools/config/index.js';
import { vl3IpamSchema } from '../vl3-ipam/config.js';
import { webhookSchema } from '../webhook/config.js';

export const ENV_TABLES: Record<string, string> = {
  registry: envTable(registrySchema),
  'nsm-apply': envTable(applySchema),
  nsmgr: envTable(nsmgrSchema),
  forwarder: envTable(forwarderSchema),
  nodeagent: envTable(nodeagentSchema),
  'icmp-responder': envTable(icmpResponderSchema),
  nsc: envTable(nscSchema),
  webhook: envTable(webhookSchema),
  'nsc-k8s': envTable(nscK8sSchema),
  passthrough: envTable(passthroughSchema),
  firewall: envTable(firewallSchema),
  vl3: envTable(vl3Schema),
  'vl3-ipam': envTable(vl3IpamSchema),
  'l7-gateway': envTable(l7GatewaySchema),
};

if (process.argv[1]?.endsWith('env-tables.js')) {
  for (const [binary, table] of Object.entries(ENV_TABLES))
    process.stdout.write(`#### ${binary}\n\n${table}\n\n`);
}
