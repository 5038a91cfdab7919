// SPIFFE IDs (spiffe://<trust domain>/<path>) and where an X.509-SVID carries one: its only URI
// SAN (SPIFFE X.509-SVID spec §2). Parsing is strict: a certificate with no SPIFFE ID, or two, is
// not an SVID and is refused rather than guessed at.
import { X509Certificate } from 'node:crypto';

export interface SpiffeId {
  /** The whole ID, `spiffe://td/path`. */
  readonly id: string;
  readonly trustDomain: string;
  readonly path: string;
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;
/** The spec's limit on a whole SPIFFE ID. */
const MAX_ID_BYTES = 2048;

/** Parses a SPIFFE ID; throws an Error saying what is wrong with it. */
export function parseSpiffeId(raw: string): SpiffeId {
  const bad = (why: string) => new Error(`${JSON.stringify(raw.slice(0, 80))} is not a SPIFFE ID: ${why}`);
  if (Buffer.byteLength(raw) > MAX_ID_BYTES) throw bad(`longer than ${MAX_ID_BYTES} bytes`);
  if (!raw.startsWith('spiffe://')) throw bad('it must start with spiffe://');
  const rest = raw.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (!TRUST_DOMAIN.test(trustDomain))
    throw bad('the trust domain must be lower-case letters, digits, ".", "_" or "-"');
  if (path !== '') {
    for (const seg of path.slice(1).split('/')) {
      if (seg === '' || seg === '.' || seg === '..' || !PATH_SEGMENT.test(seg)) {
        throw bad(`bad path segment ${JSON.stringify(seg)}`);
      }
    }
  }
  return { id: raw, trustDomain, path };
}

/** The URI SANs of a certificate, in order. */
function uriSans(cert: X509Certificate): string[] {
  const san = cert.subjectAltName ?? '';
  // Node joins the names with ", " and quotes a name that contains one (JSON string syntax).
  const out: string[] = [];
  for (const m of san.matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    out.push(m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1]);
  }
  return out;
}

/** The SPIFFE ID of an X.509-SVID (PEM or DER, the leaf first); throws when it has none or several. */
export function spiffeIdOfCertificate(cert: X509Certificate | Buffer | string): SpiffeId {
  if (cert instanceof X509Certificate) {
    // Parsed certificates are shared (cert-cache.ts): each one's SAN is read once.
    let id = idOfParsed.get(cert);
    if (!id) {
      id = spiffeIdOf(cert);
      idOfParsed.set(cert, id);
    }
    return id;
  }
  return spiffeIdOf(new X509Certificate(cert));
}

const idOfParsed = new WeakMap<X509Certificate, SpiffeId>();

function spiffeIdOf(x: X509Certificate): SpiffeId {
  const uris = uriSans(x);
  if (uris.length !== 1) {
    throw new Error(
      `certificate "${x.subject.replace(/\n/g, ', ')}" has ${uris.length} URI SANs; an X.509-SVID has exactly one, its SPIFFE ID`,
    );
  }
  return parseSpiffeId(uris[0]);
}
