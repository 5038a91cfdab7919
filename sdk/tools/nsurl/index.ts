export {
  INTERFACE_NAME_KEY,
  LINUX_IF_MAX_LENGTH,
  MECHANISM_CLS_LOCAL,
  type Nsurl,
  parseNsurl,
  parseNsurlList,
  splitNsurlList,
} from './nsurl.js';
