// The part of a MonitorConnections event that `nsmctl get` prints, decoded straight from the wire.
// A node's INITIAL_STATE_TRANSFER carries every connection it holds: 1000 connections are ~36,000
// protobuf messages and 7.4 MB, mostly the hops' signed tokens (each carries its signer's
// certificate). A table needs ids, names, state, mechanism type, expiry and addresses; decoding all
// of it in a new process (cold code) was a third of `get connections`' CPU time. The fields it skips
// (tokens, metrics, labels, mechanism parameters, routes and the rest of the context) are left at
// their defaults; `-o json|yaml`, describe and diagnose decode everything. Field numbers are the
// proto's (api/proto/networkservice/connection.proto), which upstream fixes for wire compatibility.
import { BinaryReader } from '@bufbuild/protobuf/wire';
import {
  type Connection,
  type ConnectionEvent,
  MonitorConnectionService,
  type PathSegment,
} from '../api/gen/networkservice/connection.js';
import { ConnectionContext } from '../api/gen/networkservice/connectioncontext.js';

/** Wire types (the low 3 bits of a tag). */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const tag = (field: number, wire: number) => (field << 3) | wire;

/**
 * A reader over a Node Buffer. BinaryReader's own skip() returns a view of what it skipped and its
 * string() a view for every string over 32 bytes (ids are 36): 10,000 skips and as many ids per
 * 1000 connections, each a new Buffer object, which made the decode mostly garbage collection.
 * Here skipping moves the position and strings come straight from the Buffer.
 */
class Reader extends BinaryReader {
  readonly data: Buffer;
  constructor(buf: Uint8Array) {
    const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    super(bytes);
    this.data = bytes;
  }
  /** A length-delimited UTF-8 string (invalid bytes become U+FFFD, as BinaryReader's do). */
  str(): string {
    const n = this.uint32();
    const start = this.pos;
    this.pos += n;
    this.inBounds();
    return this.data.toString('utf8', start, this.pos);
  }
  /** Skips a field's value by its wire type, without making a view of it. */
  skipValue(wireType: number): void {
    switch (wireType) {
      case VARINT:
        while (this.data[this.pos++] & 0x80) {}
        break;
      case LEN: {
        const n = this.uint32();
        this.pos += n;
        break;
      }
      case I64:
        this.pos += 8;
        break;
      case I32:
        this.pos += 4;
        break;
      default:
        this.skip(wireType); // groups: long deprecated, never in these messages
    }
    this.inBounds();
  }
  private inBounds(): void {
    if (this.pos > this.len) throw new RangeError('premature EOF');
  }
}

/** Reads the fields of one length-delimited message, calling `field` for each tag it does not skip. */
function fields(r: Reader, end: number, field: (t: number) => boolean): void {
  while (r.pos < end) {
    const t = r.uint32();
    if (!field(t)) r.skipValue(t & 7);
  }
}

function expires(r: Reader): Date {
  const end = r.uint32() + r.pos;
  let seconds = 0;
  let nanos = 0;
  fields(r, end, (t) => {
    if (t === tag(1, VARINT)) seconds = Number(r.int64());
    else if (t === tag(2, VARINT)) nanos = r.int32();
    else return false;
    return true;
  });
  return new Date(seconds * 1000 + nanos / 1e6);
}

function segment(r: Reader): PathSegment {
  const s: PathSegment = { name: '', id: '', token: '', expires: undefined, metrics: {} };
  fields(r, r.uint32() + r.pos, (t) => {
    if (t === tag(1, LEN)) s.name = r.str();
    else if (t === tag(2, LEN)) s.id = r.str();
    else if (t === tag(4, LEN)) s.expires = expires(r);
    else return false; // token (3), metrics (5)
    return true;
  });
  return s;
}

function connection(r: Reader, end: number, o: SummaryOptions): Connection {
  const c: Connection = {
    id: '',
    networkService: '',
    mechanism: undefined,
    context: undefined,
    labels: {},
    path: undefined,
    networkServiceEndpointName: '',
    payload: '',
    state: 0,
  };
  fields(r, end, (t) => {
    switch (t) {
      case tag(1, LEN):
        c.id = r.str();
        return true;
      case tag(2, LEN):
        c.networkService = r.str();
        return true;
      case tag(3, LEN): {
        const m = { cls: '', type: '', parameters: {} };
        fields(r, r.uint32() + r.pos, (u) => {
          if (u === tag(1, LEN)) m.cls = r.str();
          else if (u === tag(2, LEN)) m.type = r.str();
          else return false; // parameters (3)
          return true;
        });
        c.mechanism = m;
        return true;
      }
      case tag(4, LEN): {
        const ip = { srcIpAddrs: [] as string[], dstIpAddrs: [] as string[] };
        fields(r, r.uint32() + r.pos, (u) => {
          if (u !== tag(1, LEN)) return false; // only ip_context (1)
          fields(r, r.uint32() + r.pos, (v) => {
            if (v === tag(1, LEN)) ip.srcIpAddrs.push(r.str());
            else if (v === tag(2, LEN)) ip.dstIpAddrs.push(r.str());
            else return false;
            return true;
          });
          return true;
        });
        c.context = ConnectionContext.fromPartial({ ipContext: ip });
        return true;
      }
      case tag(6, LEN): {
        const path = { index: 0, pathSegments: [] as PathSegment[] };
        const starts: number[] = [];
        const pathEnd = r.uint32() + r.pos;
        fields(r, pathEnd, (u) => {
          if (u === tag(1, VARINT)) path.index = r.uint32();
          else if (u !== tag(2, LEN)) return false;
          else {
            starts.push(r.pos);
            r.skipValue(LEN);
          }
          return true;
        });
        // After the loop: the index may come after the segments on the wire.
        for (let i = 0; i < starts.length; i++) {
          if (!o.allHops && i !== 0 && i !== path.index) {
            path.pathSegments.push(UNREAD_SEGMENT);
            continue;
          }
          r.pos = starts[i];
          path.pathSegments.push(segment(r));
        }
        r.pos = pathEnd;
        c.path = path;
        return true;
      }
      case tag(7, LEN):
        c.networkServiceEndpointName = r.str();
        return true;
      case tag(8, LEN):
        c.payload = r.str();
        return true;
      case tag(9, VARINT):
        c.state = r.int32();
        return true;
      default:
        return false; // labels (5)
    }
  });
  return c;
}

export interface SummaryOptions {
  /**
   * Decode every hop (`-o wide` prints the path's names). Else only the client's hop (the
   * connection's id, its expiry) and the asking nsmgr's own (its name, `get nsmgrs`); the others
   * are UNREAD_SEGMENT, counted (HOPS) but not read: they were half of the decoding.
   */
  allHops?: boolean;
}

/** The path segments a summary leaves unread: empty, and frozen (shared by all). */
export const UNREAD_SEGMENT: PathSegment = Object.freeze({
  name: '',
  id: '',
  token: '',
  expires: undefined,
  metrics: Object.freeze({}),
});

/** A ConnectionEvent with each connection cut to what `get` prints. */
export function decodeSummaryEvent(buf: Uint8Array, o: SummaryOptions = {}): ConnectionEvent {
  const r = new Reader(buf);
  const ev: ConnectionEvent = { type: 0, connections: {} };
  fields(r, r.len, (t) => {
    if (t === tag(1, VARINT)) ev.type = r.int32();
    else if (t === tag(2, LEN)) {
      let key = '';
      let value: Connection | undefined;
      fields(r, r.uint32() + r.pos, (u) => {
        if (u === tag(1, LEN)) key = r.str();
        else if (u === tag(2, LEN)) value = connection(r, r.uint32() + r.pos, o);
        else return false;
        return true;
      });
      if (value) ev.connections[key] = value;
    } else return false;
    return true;
  });
  return ev;
}

/** MonitorConnections with the summary decoder (ClientPool.monitor's `method`). */
export function summaryMonitor(o: SummaryOptions) {
  return {
    ...MonitorConnectionService.monitorConnections,
    responseDeserialize: (b: Buffer) => decodeSummaryEvent(b, o),
  };
}
