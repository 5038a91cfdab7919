import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  SpiffeWorkloadAPIService,
  type X509SVIDRequest,
  type X509SVIDResponse,
} from '../../../api/gen/spiffe/workload/workload.js';
import { listen, shutdown } from '../../grpc/listen.js';
import { eventually } from '../../testing/eventually.js';
import { type CA, newCA } from './ca.js';
import type { X509Source } from './source.js';
import { openWorkloadApiSource, splitDer, workloadApiTarget } from './workload-source.js';

type Call = grpc.ServerWritableStream<X509SVIDRequest, X509SVIDResponse>;

/** A Workload API server of our own, to push SVIDs by hand (the real SPIRE is in the e2e test). */
async function fakeAgent(socket: string) {
  const calls: Call[] = [];
  const server = new grpc.Server();
  server.addService(SpiffeWorkloadAPIService, {
    fetchX509Svid(call: Call) {
      calls.push(call);
    },
  } as unknown as grpc.UntypedServiceImplementation);
  await listen(server, [`unix://${socket}`], { insecure: false });
  return { calls, close: () => shutdown(server, 100) };
}

async function response(ca: CA, spiffeId: string): Promise<X509SVIDResponse> {
  const s = await ca.issue(spiffeId);
  return {
    svids: [
      {
        spiffeId,
        x509Svid: new X509Certificate(s.certPem).raw,
        x509SvidKey: createPrivateKey(s.keyPem).export({ type: 'pkcs8', format: 'der' }),
        bundle: new X509Certificate(ca.bundlePem).raw,
        hint: '',
      },
    ],
    crl: [],
    federatedBundles: {},
  };
}

describe('identity from the SPIFFE Workload API', () => {
  let dir: string;
  let ca: CA;
  let src: X509Source | undefined;
  let agent: Awaited<ReturnType<typeof fakeAgent>> | undefined;

  before(async () => {
    ca = await newCA('example.org');
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-workload-api-'));
  });
  afterEach(async () => {
    await src?.close();
    src = undefined;
    await agent?.close();
    agent = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes the first SVID, with the security header, then follows rotations and a restarted agent', async () => {
    const socket = join(dir, 'agent.sock');
    agent = await fakeAgent(socket);
    const opening = openWorkloadApiSource({ socket: `unix://${socket}` });
    await eventually(() => assert.equal(agent!.calls.length, 1));
    assert.deepEqual(agent.calls[0].metadata.get('workload.spiffe.io'), ['true']);
    agent.calls[0].write(await response(ca, 'spiffe://example.org/nsmgr'));
    src = await opening;
    assert.equal(src.kind, 'workload-api');
    assert.equal(src.svid().spiffeId.id, 'spiffe://example.org/nsmgr');
    assert.equal(
      new X509Certificate(src.bundlePem()).fingerprint256,
      new X509Certificate(ca.bundlePem).fingerprint256,
    );

    let updates = 0;
    src.onUpdate(() => updates++);
    const before = src.svid();
    agent.calls[0].write(await response(ca, 'spiffe://example.org/nsmgr'));
    await eventually(() => assert.equal(updates, 1));
    assert.notEqual(src.svid().leaf.serialNumber, before.leaf.serialNumber, 'rotated');

    // The agent goes away: the last SVID stays; the stream is opened again and follows on.
    agent.calls[0].end();
    await eventually(() => assert.equal(agent!.calls.length, 2));
    assert.equal(src.svid().spiffeId.id, 'spiffe://example.org/nsmgr');
    agent.calls[1].write(await response(ca, 'spiffe://example.org/nsmgr-2'));
    await eventually(() => assert.equal(src!.svid().spiffeId.id, 'spiffe://example.org/nsmgr-2'));
  });

  it('refuses to start, naming the socket, when no SVID comes in time', async () => {
    await assert.rejects(
      openWorkloadApiSource({ socket: `unix://${join(dir, 'nobody.sock')}`, firstSvidTimeoutMs: 300 }),
      /no X\.509-SVID from the Workload API at unix:\/\/.*nobody\.sock within 300 ms/,
    );
  });

  it('splits concatenated DER certificates and reads the socket forms', async () => {
    const two = Buffer.concat([
      new X509Certificate(ca.bundlePem).raw,
      new X509Certificate((await ca.issue('spiffe://example.org/a')).certPem).raw,
    ]);
    assert.equal(splitDer(two).length, 2);
    assert.throws(() => splitDer(Buffer.from([0x30, 0x82, 0xff])), /bad DER length|truncated/);
    assert.throws(() => splitDer(Buffer.from('hello')), /not a DER SEQUENCE/);
    assert.equal(workloadApiTarget('unix:///run/spire/agent.sock'), 'unix:/run/spire/agent.sock');
    assert.equal(workloadApiTarget('unix:/run/spire/agent.sock'), 'unix:/run/spire/agent.sock');
    assert.throws(() => workloadApiTarget('tcp://127.0.0.1:8081'), /not a unix socket path/);
  });
});
