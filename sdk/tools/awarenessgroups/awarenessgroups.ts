// Awareness groups (upstream cmd-nsc's NSM_AWARENESS_GROUPS, sdk/pkg/tools/awarenessgroups): lists of
// NSURLs whose connections may overlap each other in the client's namespace.
//
//   [kernel://ns-1/nsm-1,kernel://ns-2/nsm-2],[kernel://ns-3/nsm-3]
//
// Syntax: groups in square brackets separated by commas; inside a group, NSURLs separated as in
// NSM_NETWORK_SERVICES (a comma inside a label value is kept, see splitNsurlList). Blanks around
// brackets and commas are ignored; an empty text means no groups. Brackets do not nest and may not
// appear inside an NSURL. Unlike upstream (which only checks the brackets and lets net/url accept
// almost anything), every entry must be a valid NSURL, no group may be empty, and one NSURL may not be
// in two groups (its connection could not belong to both).
//
// Matching a connection to a group: an NSURL of the group matches when mechanism type (the scheme),
// network service and interface name are equal and the NSURL's labels are a subset of the
// connection's labels. Upstream compares the whole URL, labels included; a subset is used here because
// the client adds labels of its own (NSM_LABELS, clientinfo's nodeName/podName) that an NSURL in the
// variable cannot know. If NSURLs of two groups both match (one with more labels), the first group wins.
import { type Nsurl, parseNsurl, splitNsurlList } from '../nsurl/index.js';

/** One group: the NSURLs whose connections may overlap each other. */
export type AwarenessGroup = readonly Nsurl[];

/** What the element knows of a connection when it matches it to a group. */
export interface ConnectionIdentity {
  /** Mechanism type, e.g. "KERNEL" (compared case-insensitively with the NSURL scheme). */
  readonly mechanismType: string;
  readonly networkService: string;
  readonly interfaceName?: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Parses NSM_AWARENESS_GROUPS. Throws an Error saying what is wrong and where (the config loader adds
 * the variable name): unbalanced or nested brackets, text outside brackets, an empty group, a bad
 * NSURL, an NSURL in two groups.
 */
export function parseAwarenessGroups(text: string): AwarenessGroup[] {
  const groups: AwarenessGroup[] = [];
  const seen = new Map<string, number>();
  let i = skipBlanks(text, 0);
  while (i < text.length) {
    if (text[i] !== '[') throw new Error(`want "[" at offset ${i}, got "${text[i]}"`);
    const close = text.indexOf(']', i + 1);
    const nested = text.indexOf('[', i + 1);
    if (close < 0) throw new Error(`unbalanced brackets: "[" at offset ${i} has no "]"`);
    if (nested >= 0 && nested < close) throw new Error(`unbalanced brackets: nested "[" at offset ${nested}`);
    const body = text.slice(i + 1, close);
    const urls = splitNsurlList(body).map(parseNsurl);
    if (urls.length === 0) throw new Error(`empty group at offset ${i}`);
    for (const u of urls) {
      const key = nsurlKey(u);
      const first = seen.get(key);
      if (first !== undefined && first !== groups.length) {
        throw new Error(`NSURL ${formatKey(u)} is in group ${first + 1} and group ${groups.length + 1}`);
      }
      seen.set(key, groups.length);
    }
    groups.push(urls);
    i = skipBlanks(text, close + 1);
    if (i >= text.length) break;
    if (text[i] === ']') throw new Error(`unbalanced brackets: "]" at offset ${i} has no "["`);
    if (text[i] !== ',') throw new Error(`want "," between groups at offset ${i}, got "${text[i]}"`);
    i = skipBlanks(text, i + 1);
    if (i >= text.length) throw new Error('a "," after the last group');
  }
  return groups;
}

/** The index of the first group with an NSURL matching the connection, or undefined. */
export function groupOf(groups: readonly AwarenessGroup[], conn: ConnectionIdentity): number | undefined {
  const index = groups.findIndex((g) => g.some((u) => matches(u, conn)));
  return index < 0 ? undefined : index;
}

function matches(u: Nsurl, conn: ConnectionIdentity): boolean {
  return (
    u.mechanism.type.toLowerCase() === conn.mechanismType.toLowerCase() &&
    u.networkService === conn.networkService &&
    (u.interfaceName ?? '') === (conn.interfaceName ?? '') &&
    Object.entries(u.labels).every(([k, v]) => conn.labels[k] === v)
  );
}

function nsurlKey(u: Nsurl): string {
  const labels = Object.entries(u.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([u.mechanism.type, u.networkService, u.interfaceName ?? '', labels]);
}

function formatKey(u: Nsurl): string {
  const query = new URLSearchParams(u.labels).toString();
  const path = u.interfaceName ? `/${u.interfaceName}` : '';
  return `${u.mechanism.type.toLowerCase()}://${u.networkService}${path}${query ? `?${query}` : ''}`;
}

function skipBlanks(text: string, from: number): number {
  let i = from;
  while (i < text.length && /\s/.test(text[i])) i++;
  return i;
}
