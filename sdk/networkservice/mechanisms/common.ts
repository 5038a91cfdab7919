// Mechanism type strings and parameter keys, exactly as upstream spells them (api mechanisms/*).
import { randomBytes } from 'node:crypto';
import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import { invalidArgument } from '../../errors/index.js';

export const CLS_LOCAL = 'LOCAL';
export const CLS_REMOTE = 'REMOTE';

export const KERNEL = 'KERNEL';
export const VXLAN = 'VXLAN';

export const PARAM_NAME = 'name';
export const PARAM_INODE_URL = 'inodeURL';
export const PARAM_NETNS_INODE = 'netnsInode';
export const PARAM_SRC_IP = 'src_ip';
export const PARAM_DST_IP = 'dst_ip';
export const PARAM_SRC_PORT = 'src_port';
export const PARAM_DST_PORT = 'dst_port';
export const PARAM_VNI = 'vni';
export const PARAM_MTU = 'MTU';

export const LINUX_IF_MAX_LENGTH = 15;
export const VXLAN_DEFAULT_PORT = 4789;

export function mechanism(cls: string, type: string, parameters: Record<string, string> = {}): Mechanism {
  return { cls, type, parameters };
}

export function describeTypes(prefs: readonly Mechanism[]): string {
  return prefs.length === 0 ? 'none' : prefs.map((m) => `${m.cls || '?'}/${m.type || '?'}`).join(', ');
}

/** Checks a requested interface name; an empty name is allowed (one is generated). */
export function validateInterfaceName(name: string, where: string): void {
  if (name.length > LINUX_IF_MAX_LENGTH) {
    throw invalidArgument(
      `${where} "${name}" is ${name.length} characters long; Linux interface names have at most ${LINUX_IF_MAX_LENGTH}`,
    );
  }
  if (name && !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw invalidArgument(`${where} "${name}" may only contain letters, digits, "_", "." and "-"`);
  }
  // iproute2 reads "all" and "default" as keywords (and the kernel reserves them in
  // /proc/sys/net/ipv*/conf), so such a link could never be addressed by name.
  if (name === '.' || name === '..' || name === 'all' || name === 'default')
    throw invalidArgument(`${where} "${name}" is not a valid interface name`);
}

/** Upstream's default name: the service name cut to 10 characters, "-", 4 random characters. */
export function generateInterfaceName(networkService: string): string {
  const prefix = networkService.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 10) || 'nsm';
  return `${prefix}-${randomSuffix()}`;
}

/**
 * Another name like `taken` (its prefix before the last "-", new random characters), for an
 * interface whose name is already used in its namespace.
 */
export function regenerateInterfaceName(taken: string): string {
  const dash = taken.lastIndexOf('-');
  const prefix = (dash > 0 ? taken.slice(0, dash) : taken).slice(0, 10) || 'nsm';
  return `${prefix}-${randomSuffix()}`;
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(4)].map((b) => alphabet[b % alphabet.length]).join('');
}
