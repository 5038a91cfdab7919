// Pure helpers of the hot-plug client: reading the downward-API annotations file and diffing NSURL lists.
import { createHash } from 'node:crypto';
import { splitNsurlList } from '../../../sdk/tools/nsurl/index.js';

/**
 * Parses a downward-API `metadata.annotations` file: one `key="value"` per line, the value quoted as
 * Go's strconv.Quote does (JSON-compatible for everything but \x escapes of invalid UTF-8).
 */
export function parseAnnotationsFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const raw = line.slice(eq + 1);
    try {
      out[line.slice(0, eq)] = JSON.parse(raw) as string;
    } catch {
      out[line.slice(0, eq)] = raw.replace(/^"|"$/g, '');
    }
  }
  return out;
}

/** A stable key per NSURL: the connection of an NSURL keeps its id while other entries come and go. */
export function urlKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 8);
}

export interface Diff {
  add: string[];
  remove: string[];
}

/** What to connect and what to close to go from the NSURLs held to the ones wanted. */
export function diffUrls(held: Iterable<string>, wanted: string): Diff {
  const want = new Set(splitNsurlList(wanted));
  const have = new Set(held);
  return { add: [...want].filter((u) => !have.has(u)), remove: [...have].filter((u) => !want.has(u)) };
}
