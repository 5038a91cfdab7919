#!/usr/bin/env node
// nsmctl loaded file by file from dist/ (`node dist/nsmctl/cli.js`). The installed binary is the
// bundle that launch.ts starts (package.json "bin"); both run command.ts.
import module from 'node:module';

// Start-up (node itself, then ~120 ms of compiling and linking commander, grpc-js and our modules)
// is most of what a short command costs. Node ≥ 22.1 keeps V8's compiled code on disk between runs
// when asked; Node 20 has no such cache for ES modules, and there this is a no-op. command.js is
// imported after it so that its whole graph is cached.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { runCli } = await import('./command.js');
await runCli();
