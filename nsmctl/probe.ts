// Traffic probes for diagnose: from inside a namespace, does an address answer? Runs reach.js
// under nsenter (the same way sdk/kernel enters namespaces), so it needs no ping on the machine.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REACH = join(dirname(fileURLToPath(import.meta.url)), 'reach.js');
/** How long one probe waits for the peer's kernel to answer. */
export const PROBE_TIMEOUT_MS = 1_000;

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

export type Prober = (netnsPath: string, host: string) => Promise<ProbeResult>;

/** Probes `host` from the namespace at `netnsPath`; two tries, so one lost SYN is not a verdict. */
export const reach: Prober = async (netnsPath, host) => {
  let last: ProbeResult = { ok: false, detail: 'not tried' };
  for (let i = 0; i < 2 && !last.ok; i++) last = await once(netnsPath, host);
  return last;
};

function once(netnsPath: string, host: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      'nsenter',
      [`--net=${netnsPath}`, process.execPath, REACH, host, String(PROBE_TIMEOUT_MS)],
      { timeout: PROBE_TIMEOUT_MS * 5 },
      (err, stdout, stderr) => {
        const line = stdout.trim();
        if (line === 'reached') resolve({ ok: true, detail: `${host} answers` });
        else if (line.startsWith('unreached'))
          resolve({ ok: false, detail: line.slice('unreached: '.length) });
        else
          resolve({ ok: false, detail: `probe failed: ${(stderr || err?.message || 'no output').trim()}` });
      },
    );
  });
}
