// Turning a KERNEL mechanism's `inodeURL` into a namespace path the forwarder can enter.
//
// Node cannot receive a namespace fd over a unix socket (no SCM_RIGHTS), so a client describes its
// namespace by identity and we find a path to it ourselves (like upstream's legacy forwarder, which
// needs hostPID for the same reason):
//
//   file:///var/run/netns/NAME, file:///run/netns/NAME  a named namespace (ip netns add)
//   file:///proc/PID/ns/net                             a process's namespace
//   inode://DEV/INO                                     st_dev/st_ino of the namespace, as
//                                                       fs.statSync('/proc/self/ns/net') reports them
//
// The URL comes from the network, so it is checked before anything enters it: only those two places
// (after resolving "..", percent-encoding and symlinks), only files on nsfs, and only *network*
// namespaces (a named file's type comes from /proc/self/mountinfo, a /proc link's from readlink
// "net:[INO]"). Anything else is INVALID_ARGUMENT; a well-formed URL naming nothing is NOT_FOUND.
//
// inode:// is resolved by scanning /var/run/netns/* first (a name survives its processes) and then
// /proc/*/ns/net (lowest PID first: the oldest process is the likeliest to stay). What a /proc scan
// sees is cached (inode → path), and a cached path is re-checked before it is returned because PIDs
// get reused.
import { readlinkSync, realpathSync, statSync } from 'node:fs';
import { readdir, readlink, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { getErrorMessage, invalidArgument, NsmError, notFound } from '../errors/index.js';
import { NETNS_RUN_DIR } from './iproute2.js';
import { NamespaceTypes, nsfsMounts } from './mountinfo.js';

/** Where named namespaces live; /var/run is usually a symlink to /run. */
const NETNS_DIRS = [NETNS_RUN_DIR, '/run/netns'];
const OWN_NETNS = '/proc/self/ns/net';
/** Upper bound on remembered inode → path entries; the cache is cleared when it grows past this. */
export const NETNS_CACHE_MAX_ENTRIES = 4096;
/** How many /proc/PID/ns/net links are read at once during a scan. */
const PROC_SCAN_CONCURRENCY = 64;

export interface ResolvedNetns {
  /** A path to enter the namespace with: /var/run/netns/NAME or /proc/PID/ns/net. */
  readonly path: string;
  /** The namespace's identity, "inode://DEV/INO". */
  readonly inode: string;
}

/** A namespace found by `NetnsResolver.list`. */
export interface ListedNetns {
  readonly path: string;
  /** The resolver's own namespace (the forwarder's, holding the underlay). */
  readonly own: boolean;
}

/**
 * Finds network namespaces for the forwarder. One object per daemon (it caches what it scanned);
 * tests pass a fake. Both methods may be called concurrently.
 */
export interface NetnsResolver {
  /** A path to enter the namespace an inodeURL names; INVALID_ARGUMENT or NOT_FOUND naming the URL. */
  resolve(inodeURL: string): Promise<ResolvedNetns>;
  /**
   * Every network namespace this process can see, one path per namespace: its own first, then named
   * ones, then those of processes. For restart reconciliation, which looks for links it made.
   */
  list(): Promise<ListedNetns[]>;
}

export interface NetnsResolverOptions {
  /** Root of procfs (tests only). */
  readonly procDir?: string;
  /** Directories holding named namespaces, preferred in this order. */
  readonly netnsDirs?: readonly string[];
}

/** "inode://DEV/INO" of this process's own network namespace, for a client describing itself. */
export function ownNetnsInodeURL(): string {
  return netnsInodeURL(OWN_NETNS);
}

/** "inode://DEV/INO" of the namespace at path (follows /proc magic links). */
export function netnsInodeURL(path: string): string {
  const st = statSync(path, { bigint: true });
  return inodeURL(st.dev, st.ino);
}

export function newNetnsResolver(opts: NetnsResolverOptions = {}): NetnsResolver {
  return new Resolver(opts.procDir ?? '/proc', opts.netnsDirs ?? NETNS_DIRS);
}

/** Resolutions kept for reuse; a full resolution reads mountinfo and may scan /proc. */
const RESOLVED_CACHE_SIZE = 4096;

function inodeURL(dev: bigint, ino: bigint): string {
  return `inode://${dev}/${ino}`;
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as { code?: string }).code ?? '');
}

function bad(url: string, why: string): never {
  throw invalidArgument(`invalid netns inodeURL ${JSON.stringify(url)}: ${why}`);
}

class Resolver implements NetnsResolver {
  /** "DEV/INO" → a /proc/PID/ns/net that pointed to it when last seen. */
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly procDir: string,
    private readonly netnsDirs: readonly string[],
  ) {
    this.nsTypes = new NamespaceTypes(procDir);
  }

  /** Namespace inode → type ("net", "uts", ...), learned from mountinfo (see mountinfo.ts). */
  private readonly nsTypes: NamespaceTypes;

  /** Real path of each named netns → "DEV/INO" when it was last stat'ed (see scanNamed). */
  private readonly named = new Map<string, string>();

  /**
   * url → its last resolution; reused while the path still holds the same namespace (one stat).
   * Resolving a URL touches only nsfs and procfs, which never wait for a disk: the checks on a
   * request's path are synchronous (an async stat is a thread-pool round trip and an event-loop
   * turn each, several per request); only the scans of every name and process stay async.
   */
  private readonly resolved = new Map<string, ResolvedNetns>();

  async resolve(url: string): Promise<ResolvedNetns> {
    if (typeof url !== 'string' || url.length === 0) bad(String(url), 'must not be empty');
    const hit = this.resolved.get(url);
    if (hit && this.stillSame(hit)) return hit;
    this.resolved.delete(url);
    let result: ResolvedNetns;
    if (url.startsWith('inode://')) result = await this.resolveInode(url);
    else if (url.startsWith('file:')) result = await this.resolveFile(url);
    else bad(url, 'scheme must be file:// or inode://');
    if (this.resolved.size >= RESOLVED_CACHE_SIZE) this.resolved.delete(this.resolved.keys().next().value!);
    this.resolved.set(url, result);
    return result;
  }

  async list(): Promise<ListedNetns[]> {
    const seen = new Set<string>();
    const out: ListedNetns[] = [];
    const add = async (path: string, own: boolean) => {
      try {
        const st = await stat(path, { bigint: true });
        const key = `${st.dev}/${st.ino}`;
        if (seen.has(key)) return;
        seen.add(key);
        out.push({ path, own });
      } catch {
        // gone, or not ours to see
      }
    };
    await add(`${this.procDir}/self/ns/net`, true);
    // Named ones: only real mounts of network namespaces (no symlinks, no files of other kinds).
    const mounts = await nsfsMounts(this.procDir);
    for (const [real, spelled] of this.realNetnsDirs()) {
      const names = await readdir(real).catch(() => [] as string[]);
      for (const n of names.sort()) {
        const type = mounts === undefined ? 'net' : mounts.get(`${real}/${n}`);
        if (type === 'net') await add(`${spelled}/${n}`, false);
      }
    }
    const entries = await readdir(this.procDir).catch(() => [] as string[]);
    const pids = entries.filter((e) => /^\d+$/.test(e)).sort((a, b) => Number(a) - Number(b));
    for (const pid of pids) await add(`${this.procDir}/${pid}/ns/net`, false);
    return out;
  }

  /** The path still names the namespace it named when resolved (PIDs and names get reused). */
  private stillSame(r: ResolvedNetns): boolean {
    try {
      const st = statSync(r.path, { bigint: true });
      return inodeURL(st.dev, st.ino) === r.inode;
    } catch {
      return false;
    }
  }

  // ---- file://

  private async resolveFile(url: string): Promise<ResolvedNetns> {
    let path: string;
    try {
      // Decodes %xx, rejects a host and encoded '/', and (via WHATWG URL) resolves "." and "..".
      path = fileURLToPath(new URL(url));
    } catch (e) {
      bad(url, `malformed file URL (${getErrorMessage(e)})`);
    }
    if (/[\0\n\r]/.test(path)) bad(url, 'path contains control characters');

    const proc = this.procPid(path);
    if (proc !== undefined) return this.checkProcNetns(url, proc);
    if (this.netnsDirs.some((d) => path.startsWith(`${d}/`))) return this.checkNamedNetns(url, path);
    if (/^\/proc\/(self|thread-self)\//.test(path)) {
      bad(url, "/proc/self names the resolver's own process, not the client's; send inode://DEV/INO instead");
    }
    bad(url, 'path must be /proc/<pid>/ns/net or /var/run/netns/<name>');
  }

  private procPid(path: string): string | undefined {
    const prefix = `${this.procDir}/`;
    if (!path.startsWith(prefix)) return undefined;
    return /^(\d+)\/ns\/net$/.exec(path.slice(prefix.length))?.[1];
  }

  private async checkProcNetns(url: string, pid: string): Promise<ResolvedNetns> {
    const path = `${this.procDir}/${pid}/ns/net`;
    let link: string;
    try {
      link = readlinkSync(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ESRCH')) throw notFound(`no process ${pid} for netns ${JSON.stringify(url)}`);
      throw new NsmError(status.INTERNAL, `failed to read ${path}: ${getErrorMessage(e)}`, { cause: e });
    }
    if (!/^net:\[\d+\]$/.test(link)) bad(url, `${path} is not a network namespace (${link})`);
    const st = this.statNs(url, path);
    return { path, inode: inodeURL(st.dev, st.ino) };
  }

  private async checkNamedNetns(url: string, path: string): Promise<ResolvedNetns> {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (name === '' || !this.netnsDirs.includes(path.slice(0, path.lastIndexOf('/')))) {
      bad(url, 'path must be /var/run/netns/<name> with a single path component');
    }
    let real: string;
    try {
      real = realpathSync.native(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ENOTDIR')) throw notFound(`network namespace ${path} does not exist`);
      throw new NsmError(status.INTERNAL, `failed to resolve ${path}: ${getErrorMessage(e)}`, { cause: e });
    }
    // Symlinks are resolved now: the file itself must sit directly in a netns directory.
    const dirs = this.realNetnsDirs();
    const realDir = real.slice(0, real.lastIndexOf('/'));
    const realName = real.slice(real.lastIndexOf('/') + 1);
    const spelled = dirs.get(realDir);
    if (spelled === undefined)
      bad(url, `${path} resolves to ${real}, outside ${this.netnsDirs.join(' and ')}`);
    const st = this.statNs(url, real);
    const type = await this.nsTypes.typeOf(st.ino);
    if (type === undefined) bad(url, `${path} is not a mounted namespace`);
    if (type !== 'net') bad(url, `${path} is a ${type} namespace, not a network namespace`);
    // The /var/run/netns spelling names it to iproute2 and nsenter alike.
    return { path: `${spelled}/${realName}`, inode: inodeURL(st.dev, st.ino) };
  }

  /** Stats a candidate and insists it is on nsfs (same device as our own netns). */
  private statNs(url: string, path: string): { dev: bigint; ino: bigint } {
    let st: { dev: bigint; ino: bigint };
    try {
      st = statSync(path, { bigint: true });
    } catch (e) {
      if (isErrno(e, 'ENOENT', 'ESRCH')) throw notFound(`network namespace ${path} does not exist`);
      throw new NsmError(status.INTERNAL, `failed to stat ${path}: ${getErrorMessage(e)}`, { cause: e });
    }
    if (st.dev !== this.nsfsDev()) bad(url, `${path} is not a network namespace (not on nsfs)`);
    return st;
  }

  private nsfsDev(): bigint {
    return statSync(`${this.procDir}/self/ns/net`, { bigint: true }).dev;
  }

  /** Real path of each netns directory → the spelling we return (the first configured one). */
  private realNetnsDirs(): Map<string, string> {
    const out = new Map<string, string>();
    for (const d of this.netnsDirs) {
      try {
        const r = realpathSync.native(d);
        if (!out.has(r)) out.set(r, d);
      } catch {
        // a missing directory simply holds no namespaces
      }
    }
    return out;
  }

  // ---- inode://

  private async resolveInode(url: string): Promise<ResolvedNetns> {
    const m = /^inode:\/\/(\d{1,20})\/(\d{1,20})$/.exec(url);
    if (!m) bad(url, 'must be inode://<dev>/<ino> with decimal numbers');
    const dev = BigInt(m[1]);
    const ino = BigInt(m[2]);
    if (dev !== this.nsfsDev()) throw notFound(`no network namespace ${url}: device ${dev} is not nsfs`);
    const found = (await this.scanNamed(dev, ino)) ?? (await this.findProc(dev, ino));
    if (found === undefined) throw notFound(`no network namespace ${url}: no named netns or process uses it`);
    return { path: found, inode: url };
  }

  /**
   * Named namespaces are preferred. A node may have a thousand (one per pod), so their identities are
   * indexed and a lookup stats only names it has not seen; a hit is confirmed with one more stat (a
   * name may have been deleted and re-created), and a miss re-reads every name (the index may be
   * stale) before the /proc scan.
   */
  private async scanNamed(dev: bigint, ino: bigint): Promise<string | undefined> {
    return (await this.scanNamedOnce(dev, ino, false)) ?? (await this.scanNamedOnce(dev, ino, true));
  }

  private async scanNamedOnce(dev: bigint, ino: bigint, restatAll: boolean): Promise<string | undefined> {
    const want = `${dev}/${ino}`;
    for (const [real, spelled] of this.realNetnsDirs()) {
      let names: string[];
      try {
        names = (await readdir(real)).sort();
      } catch {
        continue;
      }
      const paths = names.map((n) => `${real}/${n}`);
      const present = new Set(paths);
      for (const p of this.named.keys())
        if (p.startsWith(`${real}/`) && !present.has(p)) this.named.delete(p);
      const toStat = restatAll ? paths : paths.filter((p) => !this.named.has(p));
      for (let i = 0; i < toStat.length; i += PROC_SCAN_CONCURRENCY) {
        await Promise.all(
          toStat.slice(i, i + PROC_SCAN_CONCURRENCY).map(async (p) => {
            try {
              const st = await stat(p, { bigint: true });
              this.named.set(p, `${st.dev}/${st.ino}`);
            } catch {
              this.named.delete(p); // vanished while scanning
            }
          }),
        );
      }
      for (let i = 0; i < names.length; i++) {
        if (this.named.get(paths[i]) !== want) continue;
        const type = await this.nsTypes.typeOf(ino);
        if (type === 'net' && this.stillSame({ path: paths[i], inode: inodeURL(dev, ino) })) {
          return `${spelled}/${names[i]}`;
        }
      }
    }
    return undefined;
  }

  private async findProc(dev: bigint, ino: bigint): Promise<string | undefined> {
    const key = `${dev}/${ino}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      if (await this.stillIs(cached, dev, ino)) return cached;
      this.cache.delete(key);
    }
    let entries: string[];
    try {
      entries = await readdir(this.procDir);
    } catch (e) {
      throw new NsmError(status.INTERNAL, `failed to list ${this.procDir}: ${getErrorMessage(e)}`, {
        cause: e,
      });
    }
    const pids = entries.filter((e) => /^\d+$/.test(e)).sort((a, b) => Number(a) - Number(b));
    for (let i = 0; i < pids.length; i += PROC_SCAN_CONCURRENCY) {
      const chunk = pids.slice(i, i + PROC_SCAN_CONCURRENCY);
      const links = await Promise.all(
        chunk.map((pid) => readlink(`${this.procDir}/${pid}/ns/net`).catch(() => undefined)),
      );
      for (let j = 0; j < chunk.length; j++) {
        const m = links[j] === undefined ? null : /^net:\[(\d+)\]$/.exec(links[j] as string);
        if (!m) continue;
        const path = `${this.procDir}/${chunk[j]}/ns/net`;
        // Remember every namespace seen (lowest PID wins), so the next lookup usually needs no scan.
        this.remember(`${dev}/${m[1]}`, path);
        // The process may exit (and its PID be reused) at any time: confirm by stat before answering.
        if (BigInt(m[1]) === ino && (await this.stillIs(path, dev, ino))) {
          this.cache.set(key, path);
          return path;
        }
      }
    }
    return undefined;
  }

  private async stillIs(path: string, dev: bigint, ino: bigint): Promise<boolean> {
    try {
      if (!/^net:\[\d+\]$/.test(await readlink(path))) return false;
      const st = await stat(path, { bigint: true });
      return st.dev === dev && st.ino === ino;
    } catch {
      return false;
    }
  }

  private remember(key: string, path: string): void {
    if (this.cache.has(key)) return;
    if (this.cache.size >= NETNS_CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(key, path);
  }
}
