// Upstream's policy-based-routing file (cmd-nse-icmp-responder NSM_PBR_CONFIG_PATH), a YAML list:
//
//   - from: 172.16.2.201/24        # source prefix (optional)
//     proto: 6                     # IP protocol, name or number (optional)
//     srcport: 1000-2000           # optional, needs proto
//     dstport: 6666                # optional, needs proto
//     routes:
//       - prefix: 172.16.3.0/24
//         nexthop: 172.16.2.200
//
// parsed into ip_context.policies. Validation of the values is the kernel's side (sdk/kernel/policy.ts,
// INVALID_ARGUMENT naming policies[i].field); here only the shape is checked.
import { PolicyRoute } from '../../../api/gen/networkservice/connectioncontext.js';
import { getErrorMessage, invalidArgument } from '../../errors/index.js';
import { policyPlan } from '../../kernel/index.js';
import { parseYamlFile } from '../../tools/yaml-file.js';

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

export function parsePolicyFile(text: string, where: string): PolicyRoute[] {
  const doc = parseYamlFile(text, where);
  if (doc === undefined) return [];
  if (!Array.isArray(doc)) throw invalidArgument(`failed to parse ${where}: want a list of policies`);
  const out = doc.map((p: unknown, i: number) => {
    if (typeof p !== 'object' || p === null)
      throw invalidArgument(`invalid policy ${i} in ${where}: not a mapping`);
    const o = p as Record<string, unknown>;
    const routes = o.routes ?? [];
    if (!Array.isArray(routes))
      throw invalidArgument(`invalid policy ${i} in ${where}: routes must be a list`);
    return PolicyRoute.fromPartial({
      from: str(o.from),
      proto: str(o.proto),
      srcPort: str(o.srcport ?? o.src_port),
      dstPort: str(o.dstport ?? o.dst_port),
      routes: routes.map((r: Record<string, unknown>) => ({
        prefix: str(r?.prefix),
        nextHop: str(r?.nexthop ?? r?.nextHop),
      })),
    });
  });
  try {
    policyPlan(out); // the same checks the forwarder makes, so a bad file fails at start, not per connection
  } catch (e) {
    throw invalidArgument(`invalid ${where}: ${getErrorMessage(e)}`, e);
  }
  return out;
}
