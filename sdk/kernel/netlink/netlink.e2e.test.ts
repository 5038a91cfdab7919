// rtnetlink against iproute2 on the real kernel (root only): the same Dataplane calls through a runner
// with netlink and one without must leave the same links, addresses, routes and neighbours, and fail
// the same way. Everything happens in throw-away namespaces (nsmk-*), removed afterwards.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import type { LinkEnd } from '../commands.js';
import { newDataplane } from '../dataplane.js';
import { type IpRunner, isKernelCommandError, type NetnsRef, newIpRunner } from '../iproute2.js';
import { isRoot, TestNamespaces } from '../testing.js';

const run = promisify(execFile);

async function ipJson(ns: NetnsRef, args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await run('nsenter', [`--net=${ns.path}`, 'ip', '-json', ...args]);
  return stdout.trim() ? JSON.parse(stdout) : [];
}

/** What a namespace holds, without what differs between two runs (ifindexes, kernel-made MACs). */
async function state(ns: NetnsRef): Promise<Record<string, string[]>> {
  const links = (await ipJson(ns, ['-d', 'link', 'show'])).map((l) => {
    const info = l.linkinfo as { info_kind?: string; info_data?: unknown } | undefined;
    return [
      l.ifname,
      l.mtu,
      (l.flags as string[]).includes('UP') ? 'up' : 'down',
      l.ifalias ?? '-',
      String(l.address).startsWith('02:00:') ? l.address : 'any-mac',
      info?.info_kind ?? '-',
      info?.info_kind === 'vxlan' ? JSON.stringify(info.info_data) : '',
    ].join(' ');
  });
  const addrs = (await ipJson(ns, ['addr', 'show'])).flatMap((l) =>
    ((l.addr_info ?? []) as Record<string, unknown>[])
      .filter((a) => !String(a.local).startsWith('fe80'))
      .map((a) => `${l.ifname} ${a.local}/${a.prefixlen} ${a.scope} ${a.nodad ? 'nodad' : ''}`),
  );
  const routes: string[] = [];
  for (const family of ['-4', '-6']) {
    for (const r of await ipJson(ns, [family, 'route', 'show', 'table', 'all'])) {
      if (r.type === 'local' || r.type === 'multicast' || String(r.dst).startsWith('fe80')) continue;
      routes.push(
        [
          r.dst,
          r.gateway ?? (r.via as { host?: string } | undefined)?.host ?? '-',
          r.dev,
          r.table ?? 'main',
          r.scope ?? '-',
          r.protocol ?? '-',
          ...((r.flags as string[]) ?? []),
        ].join(' '),
      );
    }
  }
  const neighbours = (await ipJson(ns, ['neigh', 'show', 'nud', 'permanent'])).map(
    (n) => `${n.dst} ${n.lladdr} ${n.dev}`,
  );
  return { links: links.sort(), addrs: addrs.sort(), routes: routes.sort(), neighbours: neighbours.sort() };
}

/** This process's open sockets and namespace files (what a batch opens), as "fd target". */
function socketsAndNamespaces(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (/^(socket|net):/.test(target)) out.add(`${fd} ${target}`);
    } catch {
      // closed while we looked (readdir's own fd)
    }
  }
  return out;
}

describe('rtnetlink batches on the real kernel', function () {
  this.timeout(60_000);
  const spaces = new TestNamespaces();
  const runners: IpRunner[] = [];
  const runner = (netlink: boolean) => {
    const r = newIpRunner({ netlink });
    runners.push(r);
    return r;
  };

  before(function () {
    if (!isRoot()) this.skip();
  });

  afterEach(() => spaces.cleanup());
  after(async () => {
    for (const r of runners) await r.close();
  });

  it('leaves the same links, addresses, routes and neighbours as iproute2', async () => {
    const result: Record<string, Record<string, string[]>> = {};
    for (const netlink of [false, true]) {
      const node = await spaces.add('nl-node');
      const client = await spaces.add('nl-client');
      const endpoint = await spaces.add('nl-endpoint');
      const dp = newDataplane({ runner: runner(netlink) });
      const a: LinkEnd = {
        netns: client,
        name: 'nsm-1',
        alias: 'nsm:test:client',
        mtu: 1400,
        mac: '02:00:00:00:00:01',
        config: {
          addresses: ['172.16.1.101/32', 'fd00::65/128'],
          routes: [
            { prefix: '172.16.1.100/32' },
            { prefix: '10.0.0.0/8', via: '172.16.1.100' },
            { prefix: 'fd00::64/128' },
            { prefix: 'fd01::/64', via: 'fd00::64' },
            { prefix: '192.168.0.0/16', via: 'fd00::64' },
          ],
          neighbors: [{ ip: '172.16.1.100', mac: '02:00:00:00:00:02' }],
          policies: {
            tableBase: 70000,
            policies: [{ from: '172.16.1.101/32', routes: [{ prefix: '10.9.0.0/16', via: '172.16.1.100' }] }],
          },
        },
      };
      const b: LinkEnd = {
        netns: endpoint,
        name: 'nse-1',
        alias: 'nsm:test:endpoint',
        mtu: 1400,
        config: { addresses: ['172.16.1.100/32'], routes: [{ prefix: '172.16.1.101/32' }], neighbors: [] },
      };
      await dp.createVethPair(a, b, { netns: node });
      await dp.configureInterface(endpoint, 'nse-1', {
        addresses: ['10.1.1.1/24'],
        routes: [],
        neighbors: [],
        mtu: 1300,
      });
      await dp.createVethPair(
        { netns: null, name: 'x', alias: 'nsm:test:x' },
        { netns: endpoint, name: 'y', alias: 'nsm:test:y' },
        { netns: node },
      );
      await dp.createVxlan(
        {
          netns: client,
          name: 'nsm-2',
          alias: 'nsm:test:vxlan',
          mtu: 1450,
          config: { addresses: ['10.2.0.1/32'], routes: [{ prefix: '10.2.0.2/32' }], neighbors: [] },
        },
        {
          vni: 4242,
          local: '127.0.0.1',
          remote: '127.0.0.2',
          port: 4790,
          underlayDev: 'lo',
          underlayNetns: node,
        },
      );
      assert.equal(await dp.deleteLink(node, 'x'), true);
      assert.equal(await dp.deleteLink(node, 'x'), false);
      assert.equal(await dp.linkExists(client, 'nsm-1'), true);
      assert.equal(await dp.linkExists(client, 'nsm-3'), false);
      for (const [role, ns] of Object.entries({ node, client, endpoint })) {
        result[`${role} ${netlink ? 'netlink' : 'iproute2'}`] = await state(ns);
      }
    }
    for (const role of ['node', 'client', 'endpoint']) {
      assert.deepEqual(result[`${role} netlink`], result[`${role} iproute2`], role);
    }
    // The comparison is about something: the client end is fully configured.
    assert.ok(result['client netlink'].routes.some((r) => r.startsWith('192.168.0.0/16 fd00::64 nsm-1')));
    assert.ok(result['client netlink'].addrs.includes('nsm-1 fd00::65/128 global nodad'));
    assert.ok(result['client netlink'].neighbours.includes('172.16.1.100 02:00:00:00:00:02 nsm-1'));
    assert.ok(
      result['client netlink'].links.some((l) => l.includes('"id":4242') && l.includes('"port":4790')),
    );
  });

  it('fails as iproute2 does: the failing line named, the lines after it not run (unless force)', async () => {
    const ns = await spaces.add('nl-errors');
    const r = runner(true);
    const lines = ['link set dev lo up', 'link set dev nope up', 'addr replace 10.9.9.9/32 dev lo'];
    await assert.rejects(
      r.batch(ns, lines),
      (e: unknown) =>
        isKernelCommandError(e) &&
        e.code === status.NOT_FOUND &&
        e.command === lines[1] &&
        e.netns === ns.path &&
        /Cannot find device "nope"/.test(e.message),
    );
    assert.equal(
      (await state(ns)).addrs.some((a) => a.includes('10.9.9.9')),
      false,
      'the line after the failure ran',
    );
    await assert.rejects(r.batch(ns, lines, { force: true }), /Cannot find device "nope"/);
    assert.ok(
      (await state(ns)).addrs.some((a) => a.includes('10.9.9.9')),
      'force: the line after the failure ran',
    );

    const pair = `link add name a netns ${ns.path} type veth peer name lo netns ${ns.path}`;
    await assert.rejects(
      r.batch(null, [pair]),
      (e: unknown) =>
        isKernelCommandError(e) &&
        e.code === status.ALREADY_EXISTS &&
        /RTNETLINK answers: File exists/.test(e.message),
    );
    const gone = { path: `${ns.path}-gone` };
    await assert.rejects(
      r.batch(gone, ['link set dev lo up']),
      (e: unknown) =>
        isKernelCommandError(e) &&
        e.code === status.NOT_FOUND &&
        e.command === '' &&
        e.message.includes(gone.path),
    );
    await assert.rejects(
      r.batch(null, [`link add name a netns ${gone.path} type veth peer name b netns ${ns.path}`]),
      (e: unknown) =>
        isKernelCommandError(e) &&
        e.code === status.NOT_FOUND &&
        /Cannot open network namespace/.test(e.message),
    );
    // Not a namespace (a FIFO would hang an open without O_NONBLOCK): refused, nothing made.
    const fifo = join(tmpdir(), `nsmk-fifo-${process.pid}`);
    await run('mkfifo', [fifo]);
    try {
      await assert.rejects(
        r.batch({ path: fifo }, ['link set dev lo up']),
        (e: unknown) =>
          isKernelCommandError(e) && e.command === '' && /cannot enter network namespace/.test(e.message),
      );
      await assert.rejects(
        r.batch(null, [`link add name a netns ${fifo} type veth peer name b netns ${ns.path}`]),
        (e: unknown) => isKernelCommandError(e) && e.code === status.INTERNAL,
      );
    } finally {
      await rm(fifo, { force: true });
    }
    assert.deepEqual(
      (await state(ns)).links.filter((l) => !l.startsWith('lo ')),
      [],
      'nothing half-made',
    );
  });

  it("deletes links off Node's thread: the event loop goes on while the kernel waits out the delete", async () => {
    const ns = await spaces.add('nl-del');
    const r = runner(true);
    await r.batch(null, [`link add name d1 netns ${ns.path} type veth peer name d2 netns ${ns.path}`]);
    const order: string[] = [];
    // Run on this thread, the delete (~15 ms in the kernel) would settle in this very turn of the
    // event loop, before the callback set for the next turn.
    setImmediate(() => order.push('next turn'));
    await r.batch(ns, ['link del dev d1']);
    order.push('deleted');
    assert.deepEqual(order, ['next turn', 'deleted']);
    assert.deepEqual(
      (await state(ns)).links.filter((l) => !l.startsWith('lo ')),
      [],
    );
  });

  it('keeps no file descriptor and leaves this thread in its own namespace', async () => {
    const ns = await spaces.add('nl-fds');
    const r = runner(true);
    const home = readlinkSync('/proc/thread-self/ns/net');
    await r.batch(ns, ['link set dev lo up']); // the first loads rtnetlink and opens our own socket
    const before = socketsAndNamespaces();
    for (let i = 0; i < 50; i++) {
      await r.batch(null, [
        `link add name v${i} netns ${ns.path} type veth peer name p${i} netns ${ns.path}`,
      ]);
      await r.batch(ns, [`link set dev v${i} alias t up`, `addr replace 10.8.0.${i + 1}/32 dev v${i}`]);
      await r.batch(ns, ['link set dev nope up']).catch(() => undefined);
      await r.batch(ns, [`link del dev v${i}`]);
    }
    assert.deepEqual(
      [...socketsAndNamespaces()].filter((f) => !before.has(f)),
      [],
    );
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), home);
  });
});
