// `node dist/nsmctl/bundle.js` (the last step of `npm run build`): the `nsmctl` binary as one
// esbuild bundle, dist/nsmctl/bin/nsmctl.cjs, which launch.cts (package.json "bin") runs with V8's
// code cache.
//
// Why: a short command is mostly start-up. Loaded file by file, `nsmctl get` reads, resolves and
// compiles ~130 modules (56 ES modules of ours and @bufbuild, 72 CommonJS files of grpc-js and
// commander) before it sends a byte. One file is read once, and it can have a code cache: Node 20
// caches compiled code for no module, but vm.Script takes V8's cached data for a script, so the
// bundle is CommonJS (a script), not an ES module. Lazily imported parts (describe, diagnose, ui,
// yaml) stay lazy: esbuild turns `await import()` of a bundled module into a call that runs it then.
//
// dist/nsmctl/cli.js stays what tsc made: tests run it unbundled, and it behaves the same (the
// bundle is the same code; bundle.test.ts runs the bundle). Packages the bundle pulls in stay in
// "dependencies": the container image ships node_modules for the daemons anyway.
import { chmodSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'bin');

await build({
  stdin: { contents: "import { runCli } from './command.js';\nvoid runCli();\n", resolveDir: here },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile: join(out, 'nsmctl.cjs'),
  // A script has no import.meta: modules that find files beside themselves (probe.ts finds
  // reach.js) get the bundle's own URL, and those files are put beside the bundle below.
  define: { 'import.meta.url': '__nsmctlBundleURL' },
  banner: { js: "const __nsmctlBundleURL = require('node:url').pathToFileURL(__filename).href;" },
  // grpc-js requires it only for channelz and ORCA, which nsmctl does not use; bundled, it and
  // protobufjs were 300 KB more to parse. Left out, a require finds it in node_modules if ever asked.
  external: ['@grpc/proto-loader'],
  logLevel: 'warning',
});
// probe.ts runs it as a script of its own inside a namespace (it imports only node:net).
copyFileSync(join(here, 'reach.js'), join(out, 'reach.js'));
chmodSync(join(here, 'launch.cjs'), 0o755);
