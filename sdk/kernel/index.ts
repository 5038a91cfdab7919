// Kernel access for the mesh: iproute2 behind an interface, netns resolution, dataplane operations
// and the IPContext → interface plan. Elements import from here; nothing here spawns on import.

export type { InterfaceConfig, LinkEnd, VxlanParams } from './commands.js';
export {
  configureCommands,
  deleteLinkCommands,
  setupCommands,
  vethCreateCommand,
  vxlanCreateCommand,
} from './commands.js';
export type { InterfacePlan, NeighborSpec, RouteSpec, Side } from './connection-context.js';
export { contextPlan } from './connection-context.js';
export type {
  AddressInfo,
  Dataplane,
  DataplaneOptions,
  InterfaceTarget,
  LinkInfo,
  RouteInfo,
  VethOptions,
} from './dataplane.js';
export { newDataplane } from './dataplane.js';
export { instrumentDataplane, kernelOperation } from './instrument.js';
export type { LinkStats } from './ip-json.js';
export type {
  BatchOptions,
  IpRunner,
  IpRunnerOptions,
  NetnsRef,
  RunOptions,
} from './iproute2.js';
export {
  IP_TIMEOUT_MS,
  isKernelCommandError,
  KernelCommandError,
  kernelErrorCode,
  newIpRunner,
} from './iproute2.js';
export type { ListedNetns, NetnsResolver, NetnsResolverOptions, ResolvedNetns } from './netns.js';
export { netnsInodeURL, newNetnsResolver, ownNetnsInodeURL } from './netns.js';
export type { PolicyConfig, PolicySpec } from './policy.js';
export { MAX_POLICIES, policyPlan, policyTableBase } from './policy.js';
export type { RecordedBatch, RecordedQuery, RecordingIpRunner } from './recording-ip-runner.js';
export { newRecordingIpRunner } from './recording-ip-runner.js';
export { checkIfName, IFNAME_MAX_LENGTH, VNI_MAX } from './validate.js';
