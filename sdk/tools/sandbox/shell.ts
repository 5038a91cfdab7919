// Small process helpers for the sandbox. The sandbox sets up its own namespaces with plain `ip`
// commands (it plays the role of the host's administrator, not of the product's data plane).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export async function sh(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args as string[], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

/** Runs many `ip` commands (no leading "ip") in one batch, optionally inside a named namespace. */
export async function ipBatch(lines: readonly string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const args = netns ? ['-n', netns, '-batch', '-'] : ['-batch', '-'];
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ip', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ip -batch failed: ${stderr.trim()}`)),
    );
    p.stdin.end(`${lines.join('\n')}\n`);
  });
}

export async function listNetns(): Promise<string[]> {
  const out = await sh('ip', ['-json', 'netns', 'list']).catch(() => '');
  if (!out.trim()) return [];
  return (JSON.parse(out) as { name: string }[]).map((n) => n.name);
}

export interface LinkInfo {
  ifname: string;
  ifalias?: string;
  mtu: number;
  address?: string;
  linkinfo?: { info_kind?: string };
}

export async function links(netns: string): Promise<LinkInfo[]> {
  return JSON.parse(await sh('ip', ['-n', netns, '-json', '-d', 'link', 'show'])) as LinkInfo[];
}

/** The links of these namespaces, but those named in `skip`. */
export async function linksExcept(
  namespaces: readonly string[],
  skip: readonly string[],
): Promise<{ netns: string; ifname: string }[]> {
  const found: { netns: string; ifname: string }[] = [];
  for (const netns of namespaces)
    for (const l of await links(netns)) if (!skip.includes(l.ifname)) found.push({ netns, ifname: l.ifname });
  return found;
}

export interface AddrInfo {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}

export async function addresses(netns: string, ifname: string): Promise<string[]> {
  const out = JSON.parse(await sh('ip', ['-n', netns, '-json', 'addr', 'show', 'dev', ifname])) as AddrInfo[];
  return out.flatMap((l) =>
    l.addr_info
      .filter((a) => a.family === 'inet' || (a.family === 'inet6' && !a.local.startsWith('fe80')))
      .map((a) => `${a.local}/${a.prefixlen}`),
  );
}

export interface RouteInfo {
  dst: string;
  gateway?: string;
  dev?: string;
  scope?: string;
}

export async function routes(netns: string, ifname: string): Promise<RouteInfo[]> {
  const v4 = JSON.parse(
    await sh('ip', ['-n', netns, '-json', 'route', 'show', 'dev', ifname]),
  ) as RouteInfo[];
  const v6 = JSON.parse(
    await sh('ip', ['-n', netns, '-json', '-6', 'route', 'show', 'dev', ifname]),
  ) as RouteInfo[];
  return [...v4, ...v6.filter((r) => !r.dst.startsWith('fe80') && r.dst !== 'multicast')];
}
