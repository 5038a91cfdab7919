export { type KernelClientOptions, newClient } from './client.js';
export { interfaceName, planVeth, type VethPlan } from './common.js';
export { type KernelForwarderOptions, newForwarderMechanism } from './forwarder.js';
export { newServer } from './server.js';
