// `npm test` on a fresh machine as root: the e2e and fault tiers need Debian programs that minimal
// images may lack (nft for the firewall CNF, haproxy for the L7 gateway, chromium for the nsmctl ui
// test, iptables for the sidecar test, curl for the awareness-groups test, iproute2 and util-linux for everything). Installs the missing
// ones before those tiers; as non-root, or with NSM_TEST_NO_APT=1, it only says what is missing.
import { ensureDebianPackages, programOf } from '../sdk/tools/debian-packages.js';

const PACKAGES = [
  programOf('iproute2', 'ip'),
  programOf('util-linux', 'nsenter'),
  programOf('nftables', 'nft'),
  programOf('iptables', 'iptables'),
  programOf('haproxy', 'haproxy'),
  programOf('curl', 'curl'),
  programOf('chromium', 'chromium'),
];

const problem = await ensureDebianPackages(PACKAGES, {
  install: process.getuid?.() === 0 && process.env.NSM_TEST_NO_APT !== '1',
  log: (l) => process.stderr.write(`test setup: ${l}\n`),
});
if (problem) {
  process.stderr.write(`test setup: ${problem}\n`);
  process.exit(1);
}
