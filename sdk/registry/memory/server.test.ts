import { describeStore } from '../store-suite.js';
import * as memory from './index.js';

describeStore('memory', async () => ({
  nse: memory.newNseServer(),
  ns: memory.newNsServer(),
  close: async () => {},
}));
