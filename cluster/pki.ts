// A per-cluster CA (openssl): the apiserver's serving cert, its client cert towards the kubelets, the
// service-account key pair, and one static token per component and for the admin (in system:masters).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from './exec.js';

/**
 * Token users: file name -> [user, groups]. Each kubelet's user must be system:node:<node name> for the Node
 * authorizer, so each node gets its own (`kubelet-<node name>`).
 */
function tokenUsers(nodeNames: string[]): Record<string, [string, string[]]> {
  const users: Record<string, [string, string[]]> = {
    admin: ['nsm-cluster-admin', ['system:masters']],
    'controller-manager': ['system:kube-controller-manager', ['system:masters']],
    scheduler: ['system:kube-scheduler', []],
    'kube-proxy': ['system:kube-proxy', []],
  };
  for (const n of nodeNames) users[`kubelet-${n}`] = [`system:node:${n}`, ['system:nodes']];
  return users;
}

export interface PkiOptions {
  dir: string;
  nodeNames: string[];
  /** Addresses the apiserver is reached at besides 127.0.0.1 (node IPs, the kubernetes Service IP). */
  ips: string[];
}

export async function generatePki(opts: PkiOptions): Promise<string> {
  const pki = path.join(opts.dir, 'pki');
  fs.mkdirSync(pki, { recursive: true, mode: 0o700 });
  const cnf = path.join(pki, 'openssl.cnf');
  const sans = [
    'IP:127.0.0.1',
    ...opts.ips.map((ip) => `IP:${ip}`),
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ];
  fs.writeFileSync(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = nsm-cluster-ca',
      '[ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
      '[serving]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${sans.join(', ')}`,
      '[client]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const o = { cwd: pki };
  await run(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-config',
      cnf,
      '-extensions',
      'ca',
      '-days',
      '3650',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ],
    o,
  );
  const sign = async (name: string, subj: string, ext: string) => {
    await run(
      'openssl',
      ['req', '-new', ...ec, '-subj', subj, '-keyout', `${name}.key`, '-out', `${name}.csr`],
      o,
    );
    await run(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '3650',
        '-extfile',
        cnf,
        '-extensions',
        ext,
        '-out',
        `${name}.crt`,
      ],
      o,
    );
    fs.rmSync(path.join(pki, `${name}.csr`));
  };
  await sign('apiserver', '/CN=kube-apiserver', 'serving');
  await sign('kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'client');
  await run(
    'openssl',
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key'],
    o,
  );
  await run('openssl', ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], o);
  const lines: string[] = [];
  for (const [name, [user, groups]] of Object.entries(tokenUsers(opts.nodeNames))) {
    const token = randomBytes(24).toString('hex');
    fs.writeFileSync(path.join(pki, `${name}.token`), token, { mode: 0o600 });
    lines.push(`${token},${user},${user}${groups.length ? `,"${groups.join(',')}"` : ''}`);
  }
  fs.writeFileSync(path.join(pki, 'tokens.csv'), `${lines.join('\n')}\n`, { mode: 0o600 });
  return pki;
}

export function kubeconfig(server: string, caFile: string, user: string, token: string): string {
  const ca = fs.readFileSync(caFile).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: nsm-cluster',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: nsm-cluster',
    `  context: {cluster: nsm-cluster, user: ${user}, namespace: default}`,
    'current-context: nsm-cluster',
    '',
  ].join('\n');
}

/** DIR/kubeconfig for the admin, DIR/run/<name>.kubeconfig for a component, with `user`'s token. */
export function writeKubeconfig(dir: string, user: string, server: string, name = user): string {
  const pki = path.join(dir, 'pki');
  const token = fs.readFileSync(path.join(pki, `${user}.token`), 'utf8');
  const file = name === 'admin' ? path.join(dir, 'kubeconfig') : path.join(dir, 'run', `${name}.kubeconfig`);
  fs.writeFileSync(file, kubeconfig(server, path.join(pki, 'ca.crt'), user, token), { mode: 0o600 });
  return file;
}
