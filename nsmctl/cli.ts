#!/usr/bin/env node
// The `nsmctl` binary (package.json "bin"): runs the command line and exits with its code once
// stdout and stderr are flushed (writes to a pipe are asynchronous: exiting at once would cut a
// long table short), without waiting for gRPC channels to wind down.
import module from 'node:module';

// Start-up (node itself, then ~120 ms of compiling and linking commander, grpc-js and our modules)
// is most of what a short command costs. Node ≥ 22.1 keeps V8's compiled code on disk between runs
// when asked; Node 20 has no such cache for ES modules, and there this is a no-op. main.js is
// imported after it so that its whole graph is cached.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { run } = await import('./main.js');

// `nsmctl get connections | head` closes the pipe early: stop quietly, as other CLIs do, instead of
// dying on an unhandled EPIPE with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const code = await run(process.argv.slice(2));
const flushed = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
