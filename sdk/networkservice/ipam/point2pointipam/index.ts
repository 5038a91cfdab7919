export { clientOf, emptyIpContext, newServer, type Point2PointIpamOptions } from './server.js';
