export { GROUP, NS_PLURAL, NSE_PLURAL, objectName, VERSION } from './common.js';
export { defaultNamespace, loadKubeConfig } from './kube-api.js';
export { type K8sOptions, type K8sServer, MAX_ATTEMPTS, newNseServer, newNsServer } from './server.js';
