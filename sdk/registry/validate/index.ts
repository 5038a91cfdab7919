export {
  checkNseRegister,
  checkNsRegister,
  checkUnregister,
  checkUrl,
  MAX_ITEMS,
  MAX_LABEL_LEN,
  MAX_NAME_LEN,
  MAX_URL_LEN,
} from './common.js';
export { newNseServer, newNsServer } from './server.js';
