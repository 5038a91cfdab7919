// The iptables access of l7bypass, in this process's network namespace (the pod's), through the
// `iptables`/`ip6tables` commands. Not nft: a sidecar's REDIRECT lives in the iptables nat table
// (Istio and Linkerd write it with iptables-nft or iptables-legacy), and in netfilter a RETURN or accept
// in one base chain never stops another base chain on the same hook, so only a rule inside that same
// OUTPUT chain can keep a packet from the sidecar. Use the same backend as the sidecar (default
// `iptables`, which is iptables-nft on current distributions; `iptables-legacy` for legacy sidecars).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Family } from './common.js';

const exec = promisify(execFile);

/** Rule specs are the arguments after the chain name (see common.bypassRule). */
export interface Iptables {
  /** `-t nat -S`: every nat rule of the family, one per line. */
  listNat(family: Family): Promise<string>;
  /** Inserts the rule at the top of nat OUTPUT unless an identical one is there. */
  ensureFirst(family: Family, rule: string[]): Promise<void>;
  /** Deletes the rule from nat OUTPUT (a rule that is gone is not an error). */
  remove(family: Family, rule: string[]): Promise<void>;
}

/** `binary` names the IPv4 tool; the IPv6 one is the same name with ip6tables (iptables-legacy → ip6tables-legacy). */
export function newIptables(binary = 'iptables'): Iptables {
  const bin = (f: Family) => (f === 'ipv6' ? binary.replace(/^iptables/, 'ip6tables') : binary);
  const run = async (f: Family, args: string[]) => (await exec(bin(f), ['-w', '5', ...args])).stdout;
  return {
    listNat: (f) => run(f, ['-t', 'nat', '-S']),
    async ensureFirst(f, rule) {
      const present = await run(f, ['-t', 'nat', '-C', 'OUTPUT', ...rule]).then(
        () => true,
        () => false,
      );
      if (!present) await run(f, ['-t', 'nat', '-I', 'OUTPUT', '1', ...rule]);
    },
    async remove(f, rule) {
      try {
        await run(f, ['-t', 'nat', '-D', 'OUTPUT', ...rule]);
      } catch (e) {
        // Gone already (a flushed table, a removed namespace) is fine; a rule still there is not.
        const present = await run(f, ['-t', 'nat', '-C', 'OUTPUT', ...rule]).then(
          () => true,
          () => false,
        );
        if (present) throw e;
      }
    },
  };
}
