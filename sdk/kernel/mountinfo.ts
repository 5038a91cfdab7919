// Which namespace files are mounted where, from /proc/self/mountinfo: a file under /var/run/netns
// is a network namespace only if it is an nsfs mount of a `net:[…]` namespace. Every named netns is
// a mount, so a node with a thousand pods has a thousand lines, and the kernel regenerates the file
// on every read (with 1150 mounts one read took 4–13 ms here, more on a loaded machine). So the type
// of each namespace inode is remembered (it never changes) and mountinfo is read again only for an
// inode not seen yet: once for a batch of pods made together, once per pod made one at a time.
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

/** Upper bound on remembered namespace inodes; the map is cleared when it grows past this. */
const MAX_TYPES = 16_384;

/** Namespace inode → its type, from nsfs mounts in mountinfo; read again only on a miss. */
export class NamespaceTypes {
  private readonly types = new Map<string, string>();
  private reading: Promise<boolean> | undefined;

  constructor(private readonly procDir: string) {}

  /** "net", "uts", ... for a mounted namespace inode; undefined when none is mounted; "net" without mountinfo. */
  async typeOf(ino: bigint): Promise<string | undefined> {
    const key = String(ino);
    const known = this.types.get(key);
    if (known !== undefined) return known;
    if (!(await this.read())) return 'net'; // no mountinfo: st_dev on nsfs is all a caller can check
    return this.types.get(key);
  }

  /** One read at a time; callers that miss together share it. */
  private read(): Promise<boolean> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async readOnce(): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(`${this.procDir}/self/mountinfo`, 'utf8');
    } catch {
      return false;
    }
    if (this.types.size > MAX_TYPES) this.types.clear();
    for (const line of text.split('\n')) {
      if (!line.includes(' - nsfs ')) continue;
      const m = /^(\w+):\[(\d+)\]$/.exec(line.split(' ')[3] ?? '');
      if (m) this.types.set(m[2], m[1]);
    }
    return true;
  }
}
