export {
  type Cidr,
  formatAddress,
  formatHostPrefix,
  type IpAddress,
  type IpFamily,
  type IpRange,
  parseAddress,
  parseCidr,
  parsePrefix,
} from './ip.js';
export { IpPool, type PullOptions } from './ip-pool.js';
export {
  type PointToPointAllocation,
  PointToPointAllocator,
  type PointToPointPair,
} from './point-to-point.js';
export { PrefixSet } from './prefix-set.js';
export { RangeSet } from './range-set.js';
