export { newClient, type XconnectClientOptions } from './client.js';
export {
  type Accepted,
  type ApplyIO,
  type End,
  type KernelPlan,
  linkAlias,
  type MadeLink,
  type OrphanLink,
  ownerTag,
  type PlanInput,
  type PlannedEnd,
  planConnection,
  type XconnectMechanism,
} from './mechanism.js';
export { newReconciler, type Reconciler, type ReconcilerOptions } from './reconcile.js';
export { DEFAULT_KERNEL_CONCURRENCY, newServer, programmedLinks, type XconnectOptions } from './server.js';
