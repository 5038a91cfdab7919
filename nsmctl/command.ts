// What the `nsmctl` process does around run(): the same for the file-by-file entry (cli.ts) and
// the bundle (bundle.ts, launch.ts). Exits with the command's code once stdout and stderr are
// flushed (writes to a pipe are asynchronous: exiting at once would cut a long table short),
// without waiting for gRPC channels to wind down.
import { run } from './main.js';

export async function runCli(): Promise<never> {
  // `nsmctl get connections | head` closes the pipe early: stop quietly, as other CLIs do, instead
  // of dying on an unhandled EPIPE with a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const code = await run(process.argv.slice(2));
  const flushed = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write('', () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
