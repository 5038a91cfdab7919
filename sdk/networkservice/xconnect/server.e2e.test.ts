import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { newRecordingIpRunner, type RecordingIpRunner } from '../../kernel/index.js';
import { checkRequest } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import { mechanism } from '../mechanisms/common.js';
import {
  clientNs,
  hasCode,
  kernelPref,
  lines,
  NSE_URL,
  nextHop,
  nseNs,
  PEER_TUNNEL_IP,
  refusingHop,
  setup,
} from './testing.js';

describe('xconnect server', () => {
  describe('KERNEL to a local endpoint (KERNEL)', () => {
    it('creates a veth pair between the two namespaces and configures both ends', async () => {
      const { runner, chain } = setup(NSE_URL);
      const conn = await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      assert.deepEqual(
        conn.mechanism?.parameters,
        { name: 'nsm-1', inodeURL: clientNs.url },
        'the caller gets its own mechanism back',
      );
      const got = lines(runner);
      const create = got.find((l) => l.includes('type veth'));
      assert.ok(create, got.join('\n'));
      assert.match(
        create,
        /^<nse>: link add name nsm-1 netns <client>.* type veth peer name nse-if netns <nse>/,
      );
      // Created from the endpoint's namespace (its process is warm) with that end's set-up, then the
      // client end set up in its own.
      assert.deepEqual(
        runner.batches.map((b) => b.netns),
        [nseNs.path, clientNs.path],
        JSON.stringify(runner.batches),
      );
      const has = (re: RegExp) =>
        assert.ok(
          got.some((l) => re.test(l)),
          `${re} in\n${got.join('\n')}`,
        );
      has(/^<client>: link set dev nsm-1 alias nsm:fwd-1@10\.0\.0\.1:c1:client.* up/);
      has(/^<nse>: link set dev nse-if alias nsm:fwd-1@10\.0\.0\.1:c1:endpoint.* up/);
      has(/^<client>: addr replace 172\.16\.1\.101\/32 dev nsm-1/);
      has(/^<nse>: addr replace 172\.16\.1\.100\/32 dev nse-if/);
      has(/^<client>: route replace 172\.16\.1\.100\/32 dev nsm-1/);
      has(/^<nse>: route replace 172\.16\.1\.101\/32 dev nse-if/);
      assert.ok(!got.some((l) => /link del/.test(l)));
    });

    it('offers the next hop KERNEL and nothing of the incoming mechanism', async () => {
      const { downstream, chain } = setup(NSE_URL);
      await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      const out = downstream.calls[0].request!;
      assert.deepEqual(out.mechanismPreferences, [mechanism('LOCAL', 'KERNEL')]);
      assert.equal(out.connection?.mechanism, undefined);
    });

    it('does nothing in the kernel on a refresh that changed nothing', async () => {
      const { runner, chain } = setup(NSE_URL);
      const conn = await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      const before = runner.commands().length;
      await chain.request(background(), { connection: conn, mechanismPreferences: [kernelPref()] });
      assert.equal(runner.commands().length, before);
    });

    it('deletes the link on close and closes the next hop', async () => {
      const { runner, downstream, chain } = setup(NSE_URL);
      const conn = await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      runner.reset();
      await chain.close(background(), conn);
      // The endpoint's end: its namespace is the busy one (a warm long-lived ip); the peer goes with it.
      assert.deepEqual(lines(runner), ['<nse>: link del dev nse-if']);
      assert.deepEqual(downstream.ops(), ['request c1', 'close c1']);
      assert.equal(
        downstream.calls[1].conn?.mechanism?.parameters.name,
        'nse-if',
        'closes with the outgoing mechanism',
      );
    });

    it("deletes the client's end on close when the endpoint's end (or namespace) is gone", async () => {
      const { runner, chain } = setup(NSE_URL);
      const conn = await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      runner.reset();
      runner.failOn(/^link del dev nse-if$/, 'Cannot find device "nse-if"', 1);
      await chain.close(background(), conn);
      assert.deepEqual(lines(runner), ['<nse>: link del dev nse-if', '<client>: link del dev nsm-1']);
    });

    it("retries under a new name when the endpoint end's name is taken, and keeps it on refresh", async () => {
      let name = 'nse-if';
      const { runner, downstream, chain } = setup(NSE_URL, { hop: nextHop(() => name) });
      runner.failOn(/^link add name nsm-1 .* peer name nse-if /, 'RTNETLINK answers: File exists', 1);
      const conn = await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      const got = lines(runner);
      assert.ok(got.includes('<nse>: link show dev nse-if'), `the taken name is checked:\n${got.join('\n')}`);
      const creates = got.filter((l) => l.includes('link add name nsm-1'));
      assert.equal(creates.length, 2);
      const renamed = /peer name (nse-[a-z0-9]{4}) /.exec(creates[1])?.[1];
      assert.ok(renamed, creates[1]);
      assert.ok(got.some((l) => l.startsWith(`<nse>: link set dev ${renamed} alias`)));
      // The endpoint hears the new name on the refresh and answers with it: nothing to change.
      name = renamed;
      runner.reset();
      await chain.request(background(), { connection: conn, mechanismPreferences: [kernelPref()] });
      assert.equal(downstream.calls.at(-1)?.request?.connection?.mechanism?.parameters.name, renamed);
      assert.deepEqual(lines(runner), [], 'a refresh after the rename changes nothing');
      await chain.close(background(), conn);
      assert.deepEqual(lines(runner), [`<nse>: link del dev ${renamed}`]);
    });

    it("fails with ALREADY_EXISTS when the client's name is the one taken", async () => {
      const { runner, chain } = setup(NSE_URL);
      runner.failOn(/^link add name nsm-1 /, 'RTNETLINK answers: File exists', 1);
      runner.failOn(/^link show dev nse-if$/, 'Device "nse-if" does not exist.');
      await assert.rejects(
        chain.request(background(), request({ id: 'c1' }, [kernelPref()])),
        hasCode(6, /File exists/),
      );
      assert.equal(lines(runner).filter((l) => l.includes('link add')).length, 1, 'no retry');
    });

    it('generates the client interface name when the client gave none', async () => {
      const { runner, chain } = setup(NSE_URL);
      const conn = await chain.request(
        background(),
        request({ id: 'c1', networkService: 'icmp' }, [
          mechanism('LOCAL', 'KERNEL', { inodeURL: clientNs.url }),
        ]),
      );
      const name = conn.mechanism?.parameters.name ?? '';
      assert.match(name, /^icmp-[a-z0-9]{4}$/);
      assert.ok(runner.commands().some((c) => c.startsWith(`link add name ${name} `)));
    });

    it('closes the next hop and leaves no link when the kernel fails on the way back', async () => {
      const { runner, downstream, chain } = setup(NSE_URL);
      runner.failOn(/^addr replace 172\.16\.1\.100/, 'RTNETLINK answers: Permission denied');
      await assert.rejects(chain.request(background(), request({ id: 'c1' }, [kernelPref()])), (e: Error) => {
        assert.match(e.message, /failed to set up connection c1 in the kernel/);
        return true;
      });
      assert.deepEqual(downstream.ops(), ['request c1', 'close c1']);
      const got = lines(runner);
      assert.ok(
        got.some((l) => /link del dev (nsm-1|nse-if)/.test(l)),
        `the pair is removed:\n${got.join('\n')}`,
      );
      runner.reset();
      await chain.close(background(), request({ id: 'c1' }).connection!);
      assert.deepEqual(lines(runner), [], 'nothing is left to remove');
    });

    // Regression test (issue 8): a hung nsmgr that resumes replays refreshes whose callers already gave
    // up. Such a refresh reaches the kernel step cancelled; it used to close the connection ("the caller
    // gave up before the kernel was set up"), tearing down a working veth pair and the rest of the path.
    it('leaves a working connection alone when a refresh is cancelled', async () => {
      const { runner, downstream, chain } = setup(NSE_URL);
      const conn = await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      runner.reset();
      const gaveUp = new AbortController();
      gaveUp.abort(new Error('Cancelled on client'));
      // Whether it resolves or rejects does not matter (nobody is waiting); what it does to the kernel does.
      await chain
        .request(
          { ...background(), signal: gaveUp.signal },
          { connection: conn, mechanismPreferences: [kernelPref()] },
        )
        .catch(() => undefined);
      assert.deepEqual(lines(runner), [], 'no kernel change');
      assert.deepEqual(downstream.ops(), ['request c1', 'request c1'], 'the path is not closed');
      await chain.close(background(), conn);
      assert.deepEqual(lines(runner), ['<nse>: link del dev nse-if'], 'the pair is still owned');
    });

    it('leaves a working connection alone when a refresh that would change it is cancelled', async () => {
      let name = 'nse-if';
      const { runner, downstream, chain } = setup(NSE_URL, { hop: nextHop(() => name) });
      const conn = await chain.request(background(), request({ id: 'c1' }, [kernelPref()]));
      runner.reset();
      name = 'nse-renamed';
      const gaveUp = new AbortController();
      gaveUp.abort(new Error('Cancelled on client'));
      await assert.rejects(
        chain.request(
          { ...background(), signal: gaveUp.signal },
          { connection: conn, mechanismPreferences: [kernelPref()] },
        ),
        hasCode(status.CANCELLED, /the caller gave up before the kernel was set up/),
      );
      assert.deepEqual(lines(runner), [], 'no kernel change');
      assert.deepEqual(downstream.ops(), ['request c1', 'request c1'], 'the path is not closed');
    });

    it('cleans up a first request whose caller gave up before the kernel', async () => {
      const gaveUp = new AbortController();
      const givesUp = checkRequest(() => gaveUp.abort(new Error('Cancelled on client')));
      const { runner, downstream, chain } = setup(NSE_URL, {
        hop: newNetworkServiceChain(givesUp, nextHop()),
      });
      await assert.rejects(
        chain.request({ ...background(), signal: gaveUp.signal }, request({ id: 'c1' }, [kernelPref()])),
        hasCode(status.CANCELLED, /failed to set up connection c1 in the kernel/),
      );
      assert.deepEqual(runner.batches, [], 'nothing was made');
      assert.deepEqual(downstream.ops(), ['request c1', 'close c1'], 'nobody will own the path: closed');
    });

    it("passes the request's signal to every kernel command of a first request", async () => {
      const base = newRecordingIpRunner();
      const signals: (AbortSignal | undefined)[] = [];
      const runner: RecordingIpRunner = {
        ...base,
        batch(netns, commands, opts) {
          signals.push(opts?.signal);
          return base.batch(netns, commands, opts);
        },
      };
      const { chain } = setup(NSE_URL, { runner });
      const caller = new AbortController();
      await chain.request({ ...background(), signal: caller.signal }, request({ id: 'c1' }, [kernelPref()]));
      assert.equal(signals.length, 2); // create with the endpoint end's set-up, then the client end's
      for (const s of signals) assert.equal(s, caller.signal);
    });

    it('does nothing in the kernel when the next hop fails', async () => {
      const { runner, chain } = setup(NSE_URL, { hop: refusingHop });
      await assert.rejects(
        chain.request(background(), request({ id: 'c1' }, [kernelPref()])),
        /next hop refused/,
      );
      assert.deepEqual(runner.batches, []);
    });
  });

  describe('refusals', () => {
    const cases: { name: string; prefs: () => Mechanism[]; code: number; want: RegExp }[] = [
      {
        name: 'an unsupported mechanism',
        prefs: () => [mechanism('LOCAL', 'MEMIF')],
        code: 3,
        want: /no supported mechanism in mechanism_preferences \(got LOCAL\/MEMIF; this forwarder supports KERNEL and VXLAN\)/,
      },
      { name: 'no mechanism at all', prefs: () => [], code: 3, want: /\(got none;/ },
      {
        name: 'KERNEL without inodeURL',
        prefs: () => [mechanism('LOCAL', 'KERNEL', { name: 'nsm-1' })],
        code: 3,
        want: /KERNEL mechanism parameter "inodeURL" is missing/,
      },
      {
        name: 'KERNEL with an invalid interface name',
        prefs: () => [mechanism('LOCAL', 'KERNEL', { name: 'a/b', inodeURL: clientNs.url })],
        code: 3,
        want: /may only contain/,
      },
      {
        name: 'KERNEL in a namespace outside the allowed places',
        prefs: () => [mechanism('LOCAL', 'KERNEL', { name: 'nsm-1', inodeURL: 'file:///etc/passwd' })],
        code: 3,
        want: /invalid netns inodeURL/,
      },
      {
        name: 'KERNEL in a namespace that does not exist',
        prefs: () => [
          mechanism('LOCAL', 'KERNEL', { name: 'nsm-1', inodeURL: 'file:///var/run/netns/nsmut-missing' }),
        ],
        code: 5,
        want: /does not exist/,
      },
      {
        name: 'VXLAN without a source address',
        prefs: () => [mechanism('REMOTE', 'VXLAN', {})],
        code: 3,
        want: /VXLAN mechanism parameter "src_ip" must be an IP address/,
      },
      {
        name: 'VXLAN with a VNI out of range',
        prefs: () => [mechanism('REMOTE', 'VXLAN', { src_ip: PEER_TUNNEL_IP, vni: '16777216' })],
        code: 3,
        want: /parameter "vni" must be a number from 1 to 16777215/,
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.name} with ${c.code === 3 ? 'INVALID_ARGUMENT' : 'NOT_FOUND'} before anything else runs`, async () => {
        const { runner, downstream, chain } = setup(NSE_URL);
        await assert.rejects(
          chain.request(background(), request({ id: 'x' }, c.prefs())),
          hasCode(c.code, c.want),
        );
        assert.deepEqual(downstream.calls, []);
        assert.deepEqual(runner.batches, []);
      });
    }
  });
});
