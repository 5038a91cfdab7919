import assert from 'node:assert/strict';
import { bytesLessOrEqual, MAX_VNI, VniAllocator } from './vni.js';

/** A random source that returns the given values in turn (then repeats the last). */
const sequence = (...values: number[]) => {
  let i = 0;
  return (_min: number, _max: number) => values[Math.min(i++, values.length - 1)];
};

describe('vxlan vni', () => {
  describe('bytesLessOrEqual', () => {
    const cases: { name: string; a: string; b: string; want: boolean }[] = [
      { name: 'equal addresses', a: '10.0.0.1', b: '10.0.0.1', want: true },
      { name: 'a smaller last byte', a: '10.0.0.1', b: '10.0.0.2', want: true },
      { name: 'a larger last byte', a: '10.0.0.2', b: '10.0.0.1', want: false },
      { name: 'compares bytes, not strings', a: '10.0.0.9', b: '10.0.0.10', want: true },
      { name: 'the first differing byte decides', a: '10.1.0.0', b: '10.0.255.255', want: false },
      { name: 'IPv6', a: 'fe80::1', b: 'fe80::2', want: true },
      { name: 'IPv4 sorts before IPv6', a: '255.255.255.255', b: '::1', want: true },
      { name: 'IPv6 sorts after IPv4', a: '::1', b: '0.0.0.0', want: false },
    ];
    for (const c of cases) {
      it(`${c.name}: ${c.a} <= ${c.b} is ${c.want}`, () => {
        assert.equal(bytesLessOrEqual(c.a, c.b), c.want);
      });
    }
  });

  describe('allocate', () => {
    const parity: { name: string; src: string; dst: string; random: number; want: number }[] = [
      { name: 'even when src < dst', src: '10.0.0.1', dst: '10.0.0.2', random: 7, want: 8 },
      { name: 'even when src == dst', src: '10.0.0.1', dst: '10.0.0.1', random: 8, want: 8 },
      { name: 'odd when src > dst', src: '10.0.0.2', dst: '10.0.0.1', random: 8, want: 9 },
      { name: 'odd stays odd', src: '10.0.0.2', dst: '10.0.0.1', random: 9, want: 9 },
      {
        name: 'even below the top VNI',
        src: '10.0.0.1',
        dst: '10.0.0.2',
        random: MAX_VNI,
        want: MAX_VNI - 1,
      },
      {
        name: 'odd from the top even VNI',
        src: '10.0.0.2',
        dst: '10.0.0.1',
        random: MAX_VNI - 1,
        want: MAX_VNI,
      },
      { name: 'even from 1', src: '10.0.0.1', dst: '10.0.0.2', random: 1, want: 2 },
    ];
    for (const c of parity) {
      it(`picks ${c.name}`, () => {
        const vni = new VniAllocator(sequence(c.random)).allocate(c.src, c.dst);
        assert.equal(vni, c.want);
      });
    }

    it('gives the two directions between two nodes different parities', () => {
      const a = new VniAllocator();
      for (let i = 0; i < 50; i++) {
        assert.equal(a.allocate('10.0.0.1', '10.0.0.2') % 2, 0);
        assert.equal(a.allocate('10.0.0.2', '10.0.0.1') % 2, 1);
      }
    });

    it('asks the random source for 1..MAX_VNI', () => {
      const asked: [number, number][] = [];
      new VniAllocator((min, max) => {
        asked.push([min, max]);
        return 4;
      }).allocate('10.0.0.1', '10.0.0.2');
      assert.deepEqual(asked, [[1, MAX_VNI + 1]]);
    });

    it('never gives a VNI that is in use, trying again instead', () => {
      const a = new VniAllocator(sequence(4, 4, 5, 10));
      assert.equal(a.allocate('10.0.0.1', '10.0.0.2'), 4);
      assert.equal(a.allocate('10.0.0.1', '10.0.0.2'), 6, '4 is taken, 5 becomes 6');
      assert.ok(a.has(4) && a.has(6));
    });

    it('gives unique VNIs', () => {
      const a = new VniAllocator();
      const got = new Set(Array.from({ length: 500 }, () => a.allocate('10.0.0.1', '10.0.0.2')));
      assert.equal(got.size, 500);
    });

    it('fails with INTERNAL when it keeps hitting VNIs in use', () => {
      const a = new VniAllocator(sequence(2));
      a.allocate('10.0.0.1', '10.0.0.2');
      assert.throws(
        () => a.allocate('10.0.0.1', '10.0.0.2'),
        (e: Error & { code?: number }) => e.code === 13 && /too many in use/.test(e.message),
      );
    });
  });

  describe('claim and release', () => {
    it('records a VNI chosen by the peer and refuses it a second time', () => {
      const a = new VniAllocator();
      a.claim(100);
      assert.ok(a.has(100));
      assert.throws(
        () => a.claim(100),
        (e: Error & { code?: number }) =>
          e.code === 6 && /VNI 100 is already in use on this node/.test(e.message),
      );
    });

    it('makes a released VNI available again', () => {
      const a = new VniAllocator(sequence(4));
      assert.equal(a.allocate('10.0.0.1', '10.0.0.2'), 4);
      a.release(4);
      assert.equal(a.has(4), false);
      assert.equal(a.allocate('10.0.0.1', '10.0.0.2'), 4);
      a.claim(6);
      a.release(6);
      assert.doesNotThrow(() => a.claim(6));
    });

    it('does not let allocate hand out a claimed VNI', () => {
      const a = new VniAllocator(sequence(8, 8, 10));
      a.claim(8);
      assert.equal(a.allocate('10.0.0.1', '10.0.0.2'), 10);
    });

    it('ignores releasing a VNI not in use', () => {
      const a = new VniAllocator();
      a.release(5);
      assert.equal(a.has(5), false);
    });
  });
});
