// Links elements into a chain. Each element finds its successor in the context
// (`next.server(ctx)`), never by holding a reference, so chains nest: the tail of an inner chain
// continues with whatever followed the inner chain in the outer one.
import { chainDebugEnabled, digest, elementName, logDecision, type Observed } from './chain-log.js';
import { type Context, value, withValue } from './context.js';
import type { Connection, NetworkServiceElement, NetworkServiceRequest, RegistryElement } from './types.js';

const NEXT_KEY = Symbol('next');
const NEXT_REGISTRY_KEY = Symbol('next-registry');

/** The end of every chain: returns the request's connection unchanged. */
const TAIL: NetworkServiceElement = {
  async request(_ctx, req) {
    if (!req.connection) throw new Error('request has no connection');
    return req.connection;
  },
  async close() {},
};

export function server(ctx: Context): NetworkServiceElement {
  return value<NetworkServiceElement>(ctx, NEXT_KEY) ?? TAIL;
}
export const client = server;

class Linked implements NetworkServiceElement {
  /** With debug logging: what reached this link and what it returned, for the element before it (chain-log.ts). */
  private seen?: Observed;

  constructor(
    private readonly elements: readonly NetworkServiceElement[],
    private readonly index: number,
    private readonly after: NetworkServiceElement,
  ) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (chainDebugEnabled()) return this.debugRequest(ctx, req);
    if (this.index >= this.elements.length) return this.after.request(ctx, req);
    const following = new Linked(this.elements, this.index + 1, this.after);
    return this.elements[this.index].request(withValue(ctx, NEXT_KEY, following), req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    if (chainDebugEnabled()) return this.debugClose(ctx, conn);
    if (this.index >= this.elements.length) return this.after.close(ctx, conn);
    const following = new Linked(this.elements, this.index + 1, this.after);
    return this.elements[this.index].close(withValue(ctx, NEXT_KEY, following), conn);
  }

  /** This link's element, the link after it and the element's name for the log (past the end: neither). */
  private step(): { el: NetworkServiceElement; following?: Linked; name?: string } {
    if (this.index >= this.elements.length) return { el: this.after };
    const el = this.elements[this.index];
    return { el, following: new Linked(this.elements, this.index + 1, this.after), name: elementName(el) };
  }

  // The same as request/close, plus one debug line per element saying what it decided.
  private async debugRequest(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const entered = digest(req.connection, req.mechanismPreferences);
    this.seen = { arrived: entered };
    const { el, following, name } = this.step();
    const started = performance.now();
    try {
      const conn = await el.request(following ? withValue(ctx, NEXT_KEY, following) : ctx, req);
      this.seen.returned = digest(conn);
      if (name) logDecision(name, 'request', entered, following?.seen ?? {}, started, { conn });
      return conn;
    } catch (err) {
      if (name) logDecision(name, 'request', entered, following?.seen ?? {}, started, { err });
      throw err;
    }
  }

  private async debugClose(ctx: Context, conn: Connection): Promise<void> {
    const entered = digest(conn);
    this.seen = { arrived: entered };
    const { el, following, name } = this.step();
    const started = performance.now();
    try {
      await el.close(following ? withValue(ctx, NEXT_KEY, following) : ctx, conn);
      if (name) logDecision(name, 'close', entered, following?.seen ?? {}, started, {});
    } catch (err) {
      if (name) logDecision(name, 'close', entered, following?.seen ?? {}, started, { err });
      throw err;
    }
  }
}

/** Composes elements in order into one element. */
export function newNetworkServiceChain(...elements: NetworkServiceElement[]): NetworkServiceElement {
  return {
    request: (ctx, req) => new Linked(elements, 0, server(ctx)).request(ctx, req),
    close: (ctx, conn) => new Linked(elements, 0, server(ctx)).close(ctx, conn),
  };
}

// ---- registry chains: the same linking for RegistryElement ----

type AnyRegistry = RegistryElement<unknown, unknown, unknown>;

const REGISTRY_TAIL: AnyRegistry = {
  async register(_ctx, item) {
    return item;
  },
  async find() {},
  async unregister() {},
};

export function registry<T, Q, R>(ctx: Context): RegistryElement<T, Q, R> {
  return (value<AnyRegistry>(ctx, NEXT_REGISTRY_KEY) ?? REGISTRY_TAIL) as RegistryElement<T, Q, R>;
}

class LinkedRegistry implements AnyRegistry {
  constructor(
    private readonly elements: readonly AnyRegistry[],
    private readonly index: number,
    private readonly after: AnyRegistry,
  ) {}

  private step(ctx: Context): [AnyRegistry, Context] | undefined {
    if (this.index >= this.elements.length) return undefined;
    const following = new LinkedRegistry(this.elements, this.index + 1, this.after);
    return [this.elements[this.index], withValue(ctx, NEXT_REGISTRY_KEY, following)];
  }

  register(ctx: Context, item: unknown): Promise<unknown> {
    const s = this.step(ctx);
    return s ? s[0].register(s[1], item) : this.after.register(ctx, item);
  }
  find(ctx: Context, query: unknown, sink: (r: unknown) => void): Promise<void> {
    const s = this.step(ctx);
    return s ? s[0].find(s[1], query, sink) : this.after.find(ctx, query, sink);
  }
  unregister(ctx: Context, item: unknown): Promise<void> {
    const s = this.step(ctx);
    return s ? s[0].unregister(s[1], item) : this.after.unregister(ctx, item);
  }
}

/** Composes registry elements in order into one element. */
export function newRegistryChain<T, Q, R>(...elements: RegistryElement<T, Q, R>[]): RegistryElement<T, Q, R> {
  const els = elements as unknown as AnyRegistry[];
  return {
    register: (ctx, item) => new LinkedRegistry(els, 0, registry(ctx)).register(ctx, item) as Promise<T>,
    find: (ctx, query, sink) =>
      new LinkedRegistry(els, 0, registry(ctx)).find(ctx, query, sink as (r: unknown) => void),
    unregister: (ctx, item) => new LinkedRegistry(els, 0, registry(ctx)).unregister(ctx, item),
  };
}
