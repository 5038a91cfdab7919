// Prints the firewall's rule counters as JSON, one line per rule: run it in the CNF's namespace,
// `ip netns exec NS node dist/examples/firewall/counters.js`.
import { newNft } from './nft.js';

try {
  for (const c of await newNft().counters()) process.stdout.write(`${JSON.stringify(c)}\n`);
} catch (e) {
  process.stderr.write(`firewall counters: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
