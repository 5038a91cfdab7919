// Prometheus scraping for the e2e tests: finds a sandbox daemon's metrics URL in its log (the
// "serving metrics" line) and fetches /metrics from inside the daemon's namespace, where it listens.
import { readFileSync } from 'node:fs';
import type { Daemon } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';

export function metricsURL(d: Daemon): string {
  for (const line of readFileSync(d.logFile, 'utf8').split('\n')) {
    if (!line.includes('"serving metrics"')) continue;
    return (JSON.parse(line) as { url: string }).url;
  }
  throw new Error(`${d.name} logged no "serving metrics" line (${d.logFile})`);
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes: no timestamps, no escapes in values). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** GET /metrics of a daemon, from inside its namespace. */
export async function scrape(netns: string, d: Daemon): Promise<Sample[]> {
  const url = metricsURL(d);
  const js = `fetch(${JSON.stringify(url)}).then(async (r) => { if (!r.ok) throw new Error('HTTP ' + r.status); process.stdout.write(await r.text()); })`;
  return parseMetrics(await sh('ip', ['netns', 'exec', netns, process.execPath, '-e', js]));
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
