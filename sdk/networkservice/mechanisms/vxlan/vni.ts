// VNI allocation. The kernel refuses two VXLAN devices with the same VNI on the same UDP port in
// one namespace, so a node keeps one set of VNIs in use. The server side of a remote hop picks
// the VNI; like upstream, it picks an even VNI when src_ip <= dst_ip (bytewise) and an odd one
// otherwise, so two nodes that connect to each other in both directions never choose the same one.
import { randomInt } from 'node:crypto';
import { Address4, Address6 } from 'ip-address';
import { alreadyExists, internal } from '../../../errors/index.js';

export const MAX_VNI = 0xffffff;
const MAX_TRIES = 64;

export function addressBytes(ip: string): number[] {
  if (Address4.isValid(ip)) return new Address4(ip).toArray();
  return new Address6(ip).toByteArray();
}

/** True when a <= b comparing the addresses' bytes. */
export function bytesLessOrEqual(a: string, b: string): boolean {
  const x = addressBytes(a);
  const y = addressBytes(b);
  if (x.length !== y.length) return x.length < y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i];
  return true;
}

export class VniAllocator {
  private readonly inUse = new Set<number>();

  constructor(private readonly random: (min: number, max: number) => number = randomInt) {}

  /** A free VNI with upstream's parity for this (src, dst) pair. */
  allocate(srcIP: string, dstIP: string): number {
    const even = bytesLessOrEqual(srcIP, dstIP);
    for (let i = 0; i < MAX_TRIES; i++) {
      let vni = this.random(1, MAX_VNI + 1);
      if ((vni % 2 === 0) !== even) vni = vni === MAX_VNI ? vni - 1 : vni + 1;
      if (vni < 1 || vni > MAX_VNI || this.inUse.has(vni)) continue;
      this.inUse.add(vni);
      return vni;
    }
    throw internal('failed to allocate a VNI: too many in use');
  }

  /** Records a VNI chosen by the peer; refuses one already used on this node. */
  claim(vni: number): void {
    if (this.inUse.has(vni)) throw alreadyExists(`VNI ${vni} is already in use on this node`);
    this.inUse.add(vni);
  }

  release(vni: number): void {
    this.inUse.delete(vni);
  }

  has(vni: number): boolean {
    return this.inUse.has(vni);
  }
}
