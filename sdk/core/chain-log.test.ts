import assert from 'node:assert/strict';
import * as logscope from '../networkservice/logscope/index.js';
import { request } from '../testing/connections.js';
import { injectError } from '../testing/inject.js';
import { currentLogging, type LogOptions, logger, setupLogging } from '../tools/log.js';
import { background } from './context.js';
import * as next from './next.js';
import { newNetworkServiceChain } from './next.js';
import type { Connection, NetworkServiceElement, NetworkServiceRequest } from './types.js';

/** Chooses a mechanism on the way down, as a mechanism element would. */
class ChooseKernelServer implements NetworkServiceElement {
  request(ctx: Parameters<NetworkServiceElement['request']>[0], req: NetworkServiceRequest) {
    req.connection!.mechanism = { cls: 'LOCAL', type: 'KERNEL', parameters: {} };
    return next.server(ctx).request(ctx, req);
  }
  close(ctx: Parameters<NetworkServiceElement['close']>[0], conn: Connection) {
    return next.server(ctx).close(ctx, conn);
  }
}

/** Answers without passing on, naming the endpoint on the way back. */
class AnswerServer implements NetworkServiceElement {
  async request(_ctx: unknown, req: NetworkServiceRequest) {
    logger('answer').info('answering');
    return { ...req.connection!, networkServiceEndpointName: 'nse-1' };
  }
  async close() {}
}

describe('chain debug log', () => {
  let saved: LogOptions;
  let lines: Record<string, unknown>[];
  beforeEach(() => {
    saved = currentLogging();
    lines = [];
    setupLogging({ level: 'debug', sink: { write: (l: string) => void lines.push(JSON.parse(l)) } });
  });
  afterEach(() => setupLogging(saved));

  const decisions = () => lines.filter((l) => l.component === 'chain');

  it('logs one line per element: what it changed going down and coming back, in a digest', async () => {
    const chain = newNetworkServiceChain(new ChooseKernelServer(), new AnswerServer());
    await chain.request(background(), request({ id: 'c1' }));
    const [answer, choose] = decisions(); // inner elements finish first
    assert.equal(decisions().length, 2);
    assert.equal(choose.element, 'choosekernel');
    assert.equal(choose.passed, true);
    assert.deepEqual(choose.down, { mechanism: '∅→LOCAL/KERNEL' });
    assert.equal(choose.up, undefined);
    assert.equal(answer.element, 'answer');
    assert.equal(answer.passed, false);
    assert.deepEqual(answer.up, { nse: '∅→nse-1' });
    assert.equal(typeof choose.ms, 'number');
    for (const l of decisions()) assert.ok(JSON.stringify(l).length < 600, 'a digest, not a dump');
  });

  it('says which element failed and how', async () => {
    const chain = newNetworkServiceChain(new ChooseKernelServer(), injectError({ requestTimes: [1] }));
    await assert.rejects(chain.request(background(), request({ id: 'c1' })));
    const choose = decisions().find((l) => l.element === 'choosekernel')!;
    assert.equal(choose.msg, 'choosekernel request: failed after passing on');
    assert.equal(choose.code, 14);
  });

  it('logs nothing per element at info', async () => {
    setupLogging({ level: 'info' });
    const chain = newNetworkServiceChain(new ChooseKernelServer(), new AnswerServer());
    await chain.request(background(), request({ id: 'c1' }));
    assert.equal(decisions().length, 0);
  });

  it('puts the hop and the connection id on every line logged below logscope', async () => {
    const chain = newNetworkServiceChain(
      logscope.newServer({ name: 'nsmgr-a' }),
      new ChooseKernelServer(),
      new AnswerServer(),
    );
    await chain.request(background(), request({ id: 'c7' }));
    const answered = lines.find((l) => l.msg === 'answering')!;
    assert.equal(answered.hop, 'nsmgr-a');
    assert.equal(answered.id, 'c7');
    // a line's own fields stay on that line: the element lines inside the scope do not leak `up` to others
    const chainLines = decisions().filter((l) => l.hop === 'nsmgr-a');
    assert.deepEqual(
      chainLines.map((l) => [l.element, l.up]),
      [
        ['answer', { nse: '∅→nse-1' }],
        ['choosekernel', undefined],
      ],
    );
    logger('answer').info('outside');
    const outside = lines.find((l) => l.msg === 'outside')!;
    assert.equal(outside.hop, undefined);
  });
});
