// What metrics and tracing cost a setup (issue 13: off, no measurable change; on, ≤ 10% more). The
// cost per hop is a few microseconds, which the setup latency of a shared 2-core machine (jitter of
// milliseconds) cannot show; so bench/observability.ts measures one hop in process, its prefix
// without the new elements, as shipped with both off, and with both on, interleaved in rounds. It
// runs as a child process, so that the tracer and meters it switches on stay out of this one. The
// figures set what it adds per hop (and per kernel operation) against this run's local setup p50.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchContext, ObservabilityData } from '../context.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'observability.js');
const SAMPLES = 2000;

export async function runObservability(ctx: BenchContext): Promise<void> {
  ctx.log(`observability: one hop's Request + Close, ${SAMPLES} per round: without, off, on`);
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, String(SAMPLES)]);
  const data = JSON.parse(stdout) as ObservabilityData;
  ctx.data.observability = data;
  const us = data.usPerSetupAndClose;
  ctx.log(
    `  µs per hop: without ${us.base}, off ${us.off}, on ${us.on}; kernel op +${data.usPerKernelOp.on - data.usPerKernelOp.off} µs`,
  );
}
