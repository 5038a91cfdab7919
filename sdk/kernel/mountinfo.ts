// Which namespace files are mounted where, from /proc/self/mountinfo: a file under /var/run/netns
// is a network namespace only if it is an nsfs mount of a `net:[…]` namespace. Every named netns is
// a mount, so a node with a thousand pods has a thousand lines; a lookup of one path parses only the
// lines that mention it.
import { readFile } from 'node:fs/promises';

/**
 * Mount point → namespace type ("net", "uts", ...) of the nsfs mounts in procDir/self/mountinfo
 * (only those at `only`, when given); undefined when mountinfo cannot be read (then st_dev on nsfs
 * is all a caller can check).
 */
export async function nsfsMounts(procDir: string, only?: string): Promise<Map<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(`${procDir}/self/mountinfo`, 'utf8');
  } catch {
    return undefined;
  }
  const out = new Map<string, string>();
  const lines = only === undefined ? text.split('\n') : linesMentioning(text, ` ${escapeMount(only)} `);
  for (const line of lines) {
    // "43 42 0:4 net:[4026532177] /run/netns/x rw shared:2 - nsfs nsfs rw"
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f[sep + 1] !== 'nsfs') continue;
    // Later lines are mounted on top of earlier ones, so the last one for a path is what a path lookup sees.
    out.set(unescapeMount(f[4]), /^(\w+):\[\d+\]$/.exec(f[3])?.[1] ?? 'unknown');
  }
  return out;
}

/** The lines of text that contain `needle`, in order, without splitting the rest. */
export function linesMentioning(text: string, needle: string): string[] {
  const out: string[] = [];
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    const start = text.lastIndexOf('\n', at) + 1;
    const end = text.indexOf('\n', at);
    out.push(text.slice(start, end < 0 ? text.length : end));
    if (end < 0) break;
    at = end;
  }
  return out;
}

/** The mountinfo spelling of a path: space, tab, newline and backslash as \ooo. */
export function escapeMount(s: string): string {
  return s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeMount(s: string | undefined): string {
  return (s ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}
