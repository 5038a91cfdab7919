import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { parseResolvConf, renderResolvConf, serversFor, startForwarder } from './index.js';

/** A DNS server on host:port answering every A query with `addr`. */
async function fakeDns(host: string, addr: string): Promise<{ socket: Socket; port: number }> {
  const socket = createSocket('udp4');
  socket.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    const name = q.questions![0].name;
    socket.send(
      dnsPacket.encode({
        type: 'response',
        id: q.id,
        questions: q.questions,
        answers: [{ type: 'A', name, data: addr }],
      }),
      r.port,
      r.address,
    );
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return { socket, port: socket.address().port };
}

async function query(port: number, name: string): Promise<string | undefined> {
  const s = createSocket('udp4');
  try {
    return await new Promise((resolve) => {
      s.on('message', (m) =>
        resolve((dnsPacket.decode(m).answers?.[0] as { data?: string } | undefined)?.data),
      );
      s.send(dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name }] }), port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}

describe('dnscontext forwarder', () => {
  it('picks the longest mesh domain a name lies under, else the fallback', () => {
    const routes = [
      { domain: 'my-vl3', servers: ['172.16.0.1'] },
      { domain: 'a.my-vl3.', servers: ['172.16.1.1'] },
    ];
    assert.deepEqual(serversFor('redis.my-vl3.', routes, ['8.8.8.8']), ['172.16.0.1']);
    assert.deepEqual(serversFor('x.A.my-vl3', routes, ['8.8.8.8']), ['172.16.1.1']);
    assert.deepEqual(serversFor('example.com', routes, ['8.8.8.8']), ['8.8.8.8']);
    assert.deepEqual(serversFor('notmy-vl3', routes, ['8.8.8.8']), ['8.8.8.8']);
  });

  it('sends mesh names to the mesh server and other names to the old resolver', async () => {
    // Two upstreams on one port: 127.0.0.1 (mesh) and 127.0.0.2 (the pod's old resolver).
    const mesh = await fakeDns('127.0.0.1', '172.16.0.9');
    const old = createSocket('udp4');
    old.on('message', (m, r) => {
      const q = dnsPacket.decode(m);
      old.send(
        dnsPacket.encode({
          type: 'response',
          id: q.id,
          questions: q.questions,
          answers: [{ type: 'A', name: q.questions![0].name, data: '93.184.216.34' }],
        }),
        r.port,
        r.address,
      );
    });
    await new Promise<void>((resolve) => old.bind(mesh.port, '127.0.0.2', resolve));
    const fwd = await startForwarder({
      host: '127.0.0.1',
      port: 0,
      routes: () => [{ domain: 'my-vl3', servers: ['127.0.0.1'] }],
      fallback: () => ['127.0.0.2'],
      upstreamPort: mesh.port,
    });
    try {
      assert.equal(await query(fwd.port, 'redis.my-vl3'), '172.16.0.9');
      assert.equal(await query(fwd.port, 'example.com'), '93.184.216.34');
    } finally {
      await fwd.close();
      mesh.socket.close();
      old.close();
    }
  });

  it('reads and writes resolv.conf, comments dropped', () => {
    const conf = parseResolvConf(
      '# x\nnameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5\n',
    );
    assert.deepEqual(conf, {
      nameservers: ['10.96.0.10'],
      search: ['ns.svc.cluster.local', 'svc.cluster.local'],
      options: ['ndots:5'],
    });
    assert.match(
      renderResolvConf({ ...conf, nameservers: ['127.0.0.1'] }),
      /^nameserver 127\.0\.0\.1\nsearch ns\.svc/m,
    );
  });
});
