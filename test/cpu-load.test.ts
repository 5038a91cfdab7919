import assert from 'node:assert/strict';
import { parseCpuLoad, startCpuLoad } from './cpu-load.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('CPU load helper', () => {
  const table: { name: string; input: string | undefined; want: number | RegExp }[] = [
    { name: 'unset', input: undefined, want: 0 },
    { name: 'empty', input: ' ', want: 0 },
    { name: 'two cores', input: '2', want: 2 },
    { name: 'a fraction', input: '1.5', want: /whole number of cores from 0 to 256 \(got "1.5"\)/ },
    { name: 'a word', input: 'all', want: /NSM_TEST_CPU_LOAD: .*\(got "all"\)/ },
    { name: 'negative', input: '-1', want: /got "-1"/ },
  ];
  for (const c of table) {
    it(`parses NSM_TEST_CPU_LOAD: ${c.name}`, () => {
      if (typeof c.want === 'number') assert.equal(parseCpuLoad(c.input), c.want);
      else assert.throws(() => parseCpuLoad(c.input), c.want);
    });
  }

  it('stops when asked', async () => {
    const load = await startCpuLoad(1, 60_000);
    assert.ok(alive(load.pid));
    await load.stop();
    assert.equal(alive(load.pid), false);
  });

  it('stops by itself when its time is up', async () => {
    const load = await startCpuLoad(1, 300);
    const deadline = Date.now() + 5_000;
    while (alive(load.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(load.pid), false, 'still running 5 s after its 0.3 s were up');
    await load.stop(); // already gone: resolves at once
  });
});
