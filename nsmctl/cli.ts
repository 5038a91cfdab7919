#!/usr/bin/env node
// The `nsmctl` binary (package.json "bin"): runs the command line and exits with its code, without
// waiting for gRPC channels to wind down.
import { run } from './main.js';

process.exit(await run(process.argv.slice(2)));
