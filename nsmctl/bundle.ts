// `node dist/nsmctl/bundle.js` (the last step of `npm run build`): the `nsmctl` binary as one
// esbuild bundle, dist/nsmctl/bin/nsmctl.js, which package.json's "bin" points to.
//
// Why: a short command is mostly start-up. Loaded file by file, `nsmctl get` reads, resolves and
// compiles ~130 modules (56 ES modules of ours and @bufbuild, 72 CommonJS files of grpc-js and
// commander), ~100 ms of CPU before it sends a byte; Node 20 has no compile cache for ES modules.
// One file for what every command needs, plus a chunk per lazily imported part (describe, diagnose,
// ui, yaml: esbuild's splitting keeps `await import()` lazy), takes that to about half.
//
// dist/nsmctl/cli.js stays what tsc made: tests and the bench run it unbundled, and it behaves the
// same (the bundle is the same code). Packages the bundle pulls in stay in "dependencies": the
// container image still ships node_modules for the daemons.
import { chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const BUNDLE_DIR = join(here, 'bin');

await build({
  entryPoints: { nsmctl: join(here, 'cli.js') },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: BUNDLE_DIR,
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS packages (grpc-js, commander) call require() for Node's own modules; an ES module has
  // no require, so the bundle makes one.
  banner: {
    js: "import { createRequire as __nsmctlRequire } from 'node:module';\nconst require = __nsmctlRequire(import.meta.url);",
  },
  // Left out, loaded from node_modules when (if ever) asked for:
  // - @grpc/proto-loader: grpc-js requires it only for channelz and ORCA, which nsmctl does not
  //   use; bundled, it and protobufjs were 300 KB parsed on every start;
  // - yaml: imported lazily (output.ts) and CommonJS; esbuild's chunk for it exports only
  //   `default`, so `const { stringify } = await import('yaml')` found nothing (bundle.test.ts).
  external: ['@grpc/proto-loader', 'yaml'],
  logLevel: 'warning',
});
chmodSync(join(BUNDLE_DIR, 'nsmctl.js'), 0o755);
