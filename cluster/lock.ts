// A cross-process lock as a directory holding the owner's PID: mkdir is atomic, and a lock whose owner died
// (killed build, rebooted CI) is taken over instead of blocking forever.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processAlive } from '../sdk/tools/process-alive.js';
import { log, sleep } from './exec.js';

const LOCK_POLL_MS = 1000;

export async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(fs.readFileSync(path.join(dir, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (owner && !processAlive(owner)) {
        fs.rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!announced) log(`waiting for ${dir} (held by pid ${owner || '?'})`);
      announced = true;
      await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
