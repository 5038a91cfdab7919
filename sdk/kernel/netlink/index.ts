export { runNetlinkBatch } from './batch.js';
export { type LineOp, readLine, readLines } from './lines.js';
export { NetlinkError, type Rtnl, rtnl } from './socket.js';
