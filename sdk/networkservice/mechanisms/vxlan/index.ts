export {
  planVxlan,
  tunnelMtu,
  VXLAN_OVERHEAD_V4_BYTES,
  VXLAN_OVERHEAD_V6_BYTES,
  type VxlanPlan,
  type VxlanSettings,
  type VxlanTunnel,
} from './common.js';
export { newForwarderMechanism, nodeTunnelMtu, type VxlanForwarderOptions } from './forwarder.js';
export { MAX_VNI, VniAllocator } from './vni.js';
