// nsmctl: look at a running mesh the way kubectl looks at a cluster. `get` lists what the nsmgrs
// hold and the registry knows; `describe` shows one connection hop by hop with the kernel state at
// both ends; `diagnose` names the hop that broke. Exit codes: 0 fine, 1 a daemon did not answer,
// the object was not found or diagnose found a fault, 2 bad usage.

import { status } from '@grpc/grpc-js';
import { Command, CommanderError, Option } from 'commander';
import { getErrorCode, getErrorMessage, invalidArgument } from '../sdk/errors/index.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { get, parseResource, RESOURCES } from './get.js';
import { parseFormat, serialise } from './output.js';
import { resolveTargets, type TargetFlags } from './targets.js';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

interface GlobalFlags extends TargetFlags {
  timeout: string;
  forwarderService: string;
}

function parseTimeout(s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0)
    throw new CommanderError(EXIT.usage, 'nsmctl.usage', `--timeout: not a positive number of ms ("${s}")`);
  return n;
}

/** Builds the program; `out`/`err` are injectable so tests run it in-process. */
/** The exit code an action asks for (not process.exitCode: tests run nsmctl inside mocha). */
interface Outcome {
  code: number;
}

export function program(
  pool: ClientPool,
  out: (s: string) => void,
  err: (s: string) => void,
  outcome: Outcome = { code: EXIT.ok },
): Command {
  const p = new Command('nsmctl')
    .description('Inspect and troubleshoot a Network Service Mesh')
    .option(
      '--nsmgr <urls>',
      'nsmgr URL(s), comma separated (default: NSM_CONNECT_TO, else the sandbox mesh on this machine)',
    )
    .option('--registry <url>', "registry URL (default: NSM_REGISTRY_URL, else the nsmgr's registry proxy)")
    .option('--sandbox <id>', 'use the sandbox mesh with this id (under /run/nsm-sandbox)')
    .option('--timeout <ms>', 'how long each daemon may take to answer', '3000')
    .option(
      '--forwarder-service <name>',
      'the network service forwarders register for',
      process.env.NSM_FORWARDER_NETWORK_SERVICE_NAME ?? 'forwarder',
    )
    .configureOutput({ writeOut: out, writeErr: err })
    .exitOverride();
  const globals = () => p.opts<GlobalFlags>();
  const targets = () => resolveTargets(globals());
  /** Whom to ask and how, from the global flags (what inspect and the UI take). */
  const asking = () => ({
    targets: targets(),
    pool,
    forwarderService: globals().forwarderService,
    timeoutMs: parseTimeout(globals().timeout),
  });

  p.command('get')
    .description(`list ${RESOURCES.join(', ')}`)
    .argument('<resource>', RESOURCES.join('|'))
    .addOption(new Option('-o, --output <format>', 'wide|json|yaml'))
    .action(async (resource: string, o: { output?: string }) => {
      const r = await get(parseResource(resource), {
        targets: targets(),
        pool,
        format: parseFormat(o.output),
        forwarderService: globals().forwarderService,
        timeoutMs: parseTimeout(globals().timeout),
      });
      out(r.text);
      for (const e of r.errors) err(`error: ${getErrorMessage(e)}\n`);
      if (r.errors.length > 0) outcome.code = EXIT.failed;
    });
  p.command('describe')
    .description('show one connection hop by hop, with the kernel state at both ends')
    .argument('<resource>', 'connection')
    .argument('<id>', "the client's connection id (or any hop's)")
    .addOption(new Option('-o, --output <format>', 'json|yaml'))
    .action(async (resource: string, id: string, o: { output?: string }) => {
      if (parseResource(resource) !== 'connections') {
        throw invalidArgument(`describe: only connections can be described (got "${resource}")`);
      }
      const format = parseFormat(o.output);
      // Loaded here: get needs none of the kernel code.
      const { inspect } = await import('./inspect.js');
      const d = await import('./describe.js');
      const { kernel, close } = await openKernel();
      try {
        const snap = await inspect(asking());
        const described = await d.describe(snap, d.lookup(snap, id), kernel);
        out(
          format === 'json' || format === 'yaml' ? await serialise(described, format) : d.render(described),
        );
      } finally {
        await close();
      }
    });
  p.command('diagnose')
    .description('check a connection (or all) hop by hop and name the hop that broke')
    .argument('[id]', "the client's connection id (or any hop's); all connections without it")
    .addOption(new Option('-o, --output <format>', 'json|yaml'))
    .action(async (id: string | undefined, o: { output?: string }) => {
      const format = parseFormat(o.output);
      const { inspect } = await import('./inspect.js');
      const { lookup } = await import('./describe.js');
      const dg = await import('./diagnose.js');
      const { reach } = await import('./probe.js');
      const { kernel, close } = await openKernel();
      try {
        const snap = await inspect(asking());
        const deps = { ...kernel, probe: reach };
        const structured = format === 'json' || format === 'yaml' ? format : undefined;
        let ok: boolean;
        if (id) {
          const d = await dg.diagnose(snap, lookup(snap, id), deps);
          out(structured ? await serialise(d, structured) : dg.render(d));
          ok = d.ok;
        } else {
          const { text, all } = await dg.diagnoseAll(snap, deps);
          out(structured ? await serialise({ kind: 'DiagnosisList', items: all }, structured) : text);
          ok = all.every((d) => d.ok) && !snap.registryError && snap.nsmgrs.every((v) => !v.error);
        }
        if (!ok) outcome.code = EXIT.failed;
      } finally {
        await close();
      }
    });
  p.command('ui')
    .description('serve a live topology page (connections coloured by state; click for describe/diagnose)')
    .option('--listen <host:port>', 'where to serve it', '127.0.0.1:8080')
    .action(async (o: { listen: string }) => {
      const m = /^(.*):(\d+)$/.exec(o.listen);
      if (!m) throw invalidArgument(`--listen: "${o.listen}" is not host:port`);
      const { startUi } = await import('./ui/server.js');
      const { reach } = await import('./probe.js');
      const { kernel, close } = await openKernel();
      const ui = await startUi({
        ...asking(),
        kernel,
        probe: reach,
        host: m[1].replace(/^\[|\]$/g, ''),
        port: Number(m[2]),
      });
      out(`serving the topology on ${ui.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await ui.close();
      await close();
    });
  return p;
}

/** The kernel readers describe and diagnose share: a one-shot ip runner and a netns resolver. */
async function openKernel() {
  const k = await import('../sdk/kernel/index.js');
  const runner = k.newIpRunner({ longLived: false });
  return { kernel: { runner, resolver: k.newNetnsResolver() }, close: () => runner.close() };
}

/** Runs nsmctl with `argv` (user arguments only); resolves with the exit code. */
export async function run(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  // No limit on what a daemon answers: nsmctl reads whole connection lists, 7.4 MB at 1000.
  const pool = new ClientPool({ maxReceiveMessageBytes: -1 });
  const outcome = { code: EXIT.ok as number };
  try {
    await program(pool, out, err, outcome).parseAsync(argv, { from: 'user' });
    return outcome.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0)
        return EXIT.ok;
      if (e.code === 'nsmctl.usage') err(`error: ${e.message}\n`);
      return EXIT.usage;
    }
    err(`error: ${getErrorMessage(e)}\n`);
    return getErrorCode(e) === status.INVALID_ARGUMENT ? EXIT.usage : EXIT.failed;
  } finally {
    await pool.close();
  }
}
