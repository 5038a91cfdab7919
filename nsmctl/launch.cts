#!/usr/bin/env node
// The installed `nsmctl` (package.json "bin"): runs the bundle (bin/nsmctl.cjs, bundle.ts) with V8's
// code cache, the compiled code of its last run kept beside it. CommonJS itself (.cts), so that
// starting it does not start Node's ES module loader.
//
// Why: a short command is mostly start-up, and most of that is compiling and running the top level
// of grpc-js, commander and our modules. Node 20 has no compile cache (Node 22's
// module.enableCompileCache), but vm.Script takes V8's cached data: with it `nsmctl get connections`
// at 1000 connections used ~50 ms less CPU (of ~310 ms). The cache is a file named after the bundle's
// size and mtime (V8 itself checks only its version, flags and the source's length, so a rebuilt
// bundle must not meet an old cache); V8 refuses a cache of another node, and then it is written
// anew. It is written once, after the first run (the code that run compiled), atomically (a
// temporary file renamed), and not at all where the directory is read-only: then each run compiles
// as an uncached one would.
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const bundle = join(__dirname, 'bin', 'nsmctl.cjs');
const { size, mtimeMs } = statSync(bundle);
const cacheFile = `${bundle}.${size}-${Math.trunc(mtimeMs)}.v8cache`;

let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // no cache yet: this run makes it
}
// The bundle is CommonJS: run it in the wrapper Node's own loader would give it.
const script = new Script(
  `(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'utf8')}\n})`,
  { filename: bundle, cachedData },
);
if (cachedData === undefined || script.cachedDataRejected) {
  // On exit (command.ts ends with process.exit): by then the command's own code is compiled too.
  process.once('exit', () => {
    const tmp = `${cacheFile}.${process.pid}`;
    try {
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing was written
      }
    }
  });
}
const mod = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
