// A real SPIRE (server + agent, github.com/spiffe/spire) for the identity tests. The binaries are
// built once from the Go module proxy into a cache outside the repo, like the Kubernetes tier's
// (cluster/build.ts): a wrapper module `go get -tool`s spire-server and spire-agent at SPIRE_VERSION,
// `go install` puts them in a partial directory, moved into place only when both built.
// The server attests its agent with a join token; the agent attests workloads with the unix
// attestor, so an entry `unix:uid:0` gives every daemon of the sandbox (root) its SVID.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { log, run, stream, waitFor } from '../../cluster/exec.js';
import { withLock } from '../../cluster/lock.js';

export const SPIRE_VERSION = 'v1.13.3';
export const SPIRE_CACHE = path.resolve(process.env.NSM_SPIRE_CACHE ?? '/var/cache/nsm-ts/spire');
const BIN_DIR = path.join(SPIRE_CACHE, 'bin');
export const TRUST_DOMAIN = 'example.org';
/** A cold build downloads and compiles a few hundred modules: 10-30 minutes on 2 busy cores. */
export const BUILD_TIMEOUT_MS = 45 * 60_000;
const PROGRESS_INTERVAL_MS = 30_000;

export const bin = (name: 'spire-server' | 'spire-agent') => path.join(BIN_DIR, name);

function built(): boolean {
  return ['spire-server', 'spire-agent'].every((b) => fs.existsSync(path.join(BIN_DIR, b)));
}

/** Builds the binaries unless cached; milliseconds when they are. */
export async function buildSpire(): Promise<void> {
  if (built()) return;
  fs.mkdirSync(SPIRE_CACHE, { recursive: true });
  await withLock(path.join(SPIRE_CACHE, 'build.lock'), async () => {
    if (built()) return; // another process built them while we waited
    const src = path.join(SPIRE_CACHE, 'src');
    fs.mkdirSync(src, { recursive: true });
    if (!fs.existsSync(path.join(src, 'go.mod'))) {
      fs.writeFileSync(path.join(src, 'go.mod'), 'module nsm-ts.local/spire-tools\n\ngo 1.26\n');
    }
    const env = { ...process.env, GOFLAGS: '-modcacherw', GOTOOLCHAIN: 'local', GOWORK: 'off' };
    const logFile = fs.createWriteStream(path.join(src, 'build.log'), { flags: 'a' });
    let last = Date.now();
    const progress = (line: string) => {
      if (Date.now() - last < PROGRESS_INTERVAL_MS) return undefined;
      last = Date.now();
      return `spire ${SPIRE_VERSION}: still building (latest: ${line.slice(0, 80)})`;
    };
    try {
      log(`spire ${SPIRE_VERSION}: building spire-server and spire-agent into ${BIN_DIR} (first run only)`);
      const pkgs = ['github.com/spiffe/spire/cmd/spire-server', 'github.com/spiffe/spire/cmd/spire-agent'];
      const opts = { cwd: src, env, logLine: (l: string) => logFile.write(`${l}\n`), onLine: progress };
      await stream(
        'nice',
        ['-n', '10', 'go', 'get', '-tool', ...pkgs.map((p) => `${p}@${SPIRE_VERSION}`)],
        opts,
      );
      const partial = path.join(SPIRE_CACHE, 'bin.partial');
      fs.mkdirSync(partial, { recursive: true });
      await stream('nice', ['-n', '10', 'go', 'install', '-trimpath', ...pkgs], {
        ...opts,
        env: { ...env, GOBIN: partial },
      });
      fs.mkdirSync(BIN_DIR, { recursive: true });
      for (const f of fs.readdirSync(partial)) fs.renameSync(path.join(partial, f), path.join(BIN_DIR, f));
    } finally {
      logFile.end();
    }
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Spire {
  /** SPIFFE_ENDPOINT_SOCKET for the workloads. */
  readonly agentSocket: string;
  /** Registers `spiffeId` for the workloads matching `selector` (e.g. unix:uid:0). */
  register(spiffeId: string, selector: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts a server and an agent under `dir` (their data, sockets and logs); close() stops both. */
export async function startSpire(dir: string): Promise<Spire> {
  const port = await freePort();
  const serverSocket = path.join(dir, 'server.sock');
  const agentSocket = path.join(dir, 'agent.sock');
  fs.writeFileSync(
    path.join(dir, 'server.conf'),
    `server {
  bind_address = "127.0.0.1"
  bind_port = "${port}"
  socket_path = "${serverSocket}"
  trust_domain = "${TRUST_DOMAIN}"
  data_dir = "${dir}/server-data"
  log_level = "WARN"
  default_x509_svid_ttl = "1h"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "${dir}/datastore.sqlite3" } }
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "memory" { plugin_data {} }
}
`,
  );
  fs.writeFileSync(
    path.join(dir, 'agent.conf'),
    `agent {
  data_dir = "${dir}/agent-data"
  log_level = "WARN"
  server_address = "127.0.0.1"
  server_port = "${port}"
  socket_path = "${agentSocket}"
  trust_domain = "${TRUST_DOMAIN}"
  insecure_bootstrap = true
}
plugins {
  NodeAttestor "join_token" { plugin_data {} }
  KeyManager "memory" { plugin_data {} }
  WorkloadAttestor "unix" { plugin_data {} }
}
`,
  );
  const procs: ChildProcess[] = [];
  const start = (name: string, args: string[]) => {
    const out = fs.openSync(path.join(dir, `${path.basename(name)}.log`), 'a');
    const p = spawn(name, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    procs.push(p);
    return p;
  };
  const close = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
            setTimeout(() => p.kill('SIGKILL'), 5_000).unref();
          }),
      ),
    );
  };
  try {
    start(bin('spire-server'), ['run', '-config', path.join(dir, 'server.conf')]);
    await waitFor(
      'spire-server to be healthy',
      60_000,
      async () =>
        (await run(bin('spire-server'), ['healthcheck', '-socketPath', serverSocket], { allowFail: true }))
          .code === 0,
    );
    const token = await run(bin('spire-server'), [
      'token',
      'generate',
      '-socketPath',
      serverSocket,
      '-spiffeID',
      `spiffe://${TRUST_DOMAIN}/agent`,
    ]);
    const joinToken = /Token: (\S+)/.exec(token.stdout)?.[1];
    if (!joinToken) throw new Error(`spire-server token generate printed no token: ${token.stdout}`);
    start(bin('spire-agent'), ['run', '-config', path.join(dir, 'agent.conf'), '-joinToken', joinToken]);
    await waitFor(
      'spire-agent to be healthy',
      60_000,
      async () =>
        (await run(bin('spire-agent'), ['healthcheck', '-socketPath', agentSocket], { allowFail: true }))
          .code === 0,
    );
  } catch (e) {
    await close();
    throw e;
  }
  return {
    agentSocket: `unix://${agentSocket}`,
    async register(spiffeId, selector) {
      await run(bin('spire-server'), [
        'entry',
        'create',
        '-socketPath',
        serverSocket,
        '-parentID',
        `spiffe://${TRUST_DOMAIN}/agent`,
        '-spiffeID',
        spiffeId,
        '-selector',
        selector,
      ]);
    },
    close,
  };
}
