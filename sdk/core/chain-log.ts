// With NSM_LOG_LEVEL=debug, one line per chain element and call saying what the element decided:
// whether it passed the call on, what it changed in the connection on the way down (before passing
// on) and on the way back, how long it took, or how it failed. A digest of a few fields, not a dump
// of the connection (upstream's trace logs print whole diffs, thousands of lines per connection).
// next.ts calls it; at any other level it costs one level check per element.

import { getErrorCode, getErrorMessage } from '../errors/index.js';
import { logger } from '../tools/log.js';
import type { Connection, NetworkServiceElement, NetworkServiceRequest } from './types.js';

const log = logger('chain');

export function chainDebugEnabled(): boolean {
  return log.isLevelEnabled('debug');
}

/** The element's name as its folder is named: UpdatePathServer → updatepath. Chains themselves have none. */
export function elementName(el: NetworkServiceElement): string | undefined {
  const n = (el as object).constructor?.name;
  if (!n || n === 'Object') return undefined;
  return n.replace(/(Server|Client)$/, '').toLowerCase() || n;
}

export type Digest = Readonly<Record<string, string>>;

/** The fields a decision changes, as short strings. */
export function digest(
  conn: Connection | undefined,
  prefs?: NetworkServiceRequest['mechanismPreferences'],
): Digest {
  if (!conn) return {};
  const ip = conn.context?.ipContext;
  const d: Record<string, string> = {
    id: conn.id,
    nse: conn.networkServiceEndpointName,
    mechanism: conn.mechanism ? `${conn.mechanism.cls}/${conn.mechanism.type}` : '',
    path: conn.path ? `${conn.path.index}/${conn.path.pathSegments.length}` : '',
    state: String(conn.state),
    src: ip?.srcIpAddrs.join(',') ?? '',
    dst: ip?.dstIpAddrs.join(',') ?? '',
    labels: Object.keys(conn.labels ?? {}).length.toString(),
  };
  if (prefs) d.prefs = prefs.map((m) => m.type).join(',');
  return d;
}

/** "field: before→after" for every field that changed. */
export function changes(before: Digest | undefined, after: Digest | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!before || !after) return out;
  for (const k of Object.keys(after)) {
    if (before[k] !== after[k]) out[k] = `${before[k] || '∅'}→${after[k] || '∅'}`;
  }
  return out;
}

/** What one element did with one call, seen from the link before it and the link after it. */
export interface Observed {
  /** The request as the next element received it (undefined: the element did not pass it on). */
  arrived?: Digest;
  /** What the next element returned. */
  returned?: Digest;
}

export function logDecision(
  name: string,
  op: 'request' | 'close',
  entered: Digest,
  seen: Observed,
  started: number,
  result: { conn?: Connection; err?: unknown },
): void {
  const ms = Math.round((performance.now() - started) * 100) / 100;
  const passed = seen.arrived !== undefined;
  const down = changes(entered, seen.arrived);
  const up = result.conn ? changes(seen.returned ?? seen.arrived ?? entered, digest(result.conn)) : {};
  const fields = {
    element: name,
    op,
    ms,
    passed,
    ...(Object.keys(down).length ? { down } : {}),
    ...(Object.keys(up).length ? { up } : {}),
  };
  if (result.err !== undefined) {
    log.debug(
      { ...fields, code: getErrorCode(result.err), error: getErrorMessage(result.err).slice(0, 300) },
      `${name} ${op}: failed${passed ? ' after passing on' : ''}`,
    );
    return;
  }
  log.debug(fields, `${name} ${op}: ${passed ? 'passed on' : 'answered itself'}`);
}
