// An immutable request context: cancellation signal, optional deadline and typed values.
// Every element receives one; `withValue` returns a new context and never mutates the old one.
import { clock } from './clock.js';

export interface Context {
  readonly signal: AbortSignal;
  /** Epoch milliseconds after which the work should be abandoned, if any. */
  readonly deadline?: number;
  readonly values: ReadonlyMap<symbol, unknown>;
}

const NEVER_ABORTED = new AbortController().signal;

export function background(): Context {
  return { signal: NEVER_ABORTED, values: new Map() };
}

export function withValue(ctx: Context, key: symbol, value: unknown): Context {
  const values = new Map(ctx.values);
  values.set(key, value);
  return { ...ctx, values };
}

export function value<T>(ctx: Context, key: symbol): T | undefined {
  return ctx.values.get(key) as T | undefined;
}

export interface Cancelable {
  ctx: Context;
  cancel: (reason?: unknown) => void;
}

/**
 * A child context cancelled when the parent is, or when `cancel` is called. `cancel` is also the
 * disposer: it unlinks the child from the parent, so call it when the child's work is done.
 */
export function withCancel(parent: Context): Cancelable {
  const { ctx, abort, unlink } = followParent(parent);
  const cancel = (reason?: unknown) => {
    unlink();
    abort(reason ?? new Error('context cancelled'));
  };
  return { ctx, cancel };
}

export interface Followed {
  ctx: Context;
  /** Aborts the child (not the parent). */
  abort: (reason: unknown) => void;
  /** Stops following the parent, without aborting the child. */
  unlink: () => void;
}

/**
 * A child context aborted when the parent is, or by `abort`, until `unlink`. Unlike withCancel's
 * cancel, unlink leaves the child as it is: for the context of one served call, whose work may
 * outlive the call. (Node 20's AbortSignal.any does the same but keeps a WeakRef per child in the
 * parent's signal for good: ~60 bytes per call under a daemon-long parent.)
 */
export function followParent(parent: Context): Followed {
  const controller = new AbortController();
  const abort = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onParentAbort = () => abort(parent.signal.reason);
  let linked = false;
  if (parent.signal.aborted) abort(parent.signal.reason);
  // background()'s signal never aborts: listening to it would only pile up listeners.
  else if (parent.signal !== NEVER_ABORTED) {
    parent.signal.addEventListener('abort', onParentAbort, { once: true });
    linked = true;
  }
  const unlink = () => {
    if (linked) parent.signal.removeEventListener('abort', onParentAbort);
    linked = false;
  };
  return { ctx: { ...parent, signal: controller.signal }, abort, unlink };
}

/**
 * A child context that is cancelled after `ms` on the parent's clock (or at the parent's deadline,
 * if earlier); call `cancel` when done to release the timer.
 */
export function withTimeout(parent: Context, ms: number): Cancelable {
  const c = clock(parent);
  const deadline = Math.min(c.now() + ms, parent.deadline ?? Number.POSITIVE_INFINITY);
  const { ctx, cancel } = withCancel({ ...parent, deadline });
  const timer = c.setTimeout(
    () => cancel(new Error(`deadline of ${ms} ms exceeded`)),
    Math.max(0, deadline - c.now()),
  );
  return {
    ctx,
    cancel: (reason?: unknown) => {
      timer.clear();
      cancel(reason);
    },
  };
}

/** Budget of a postponed context when the original had no deadline. */
const POSTPONE_DEFAULT_BUDGET_MS = 15_000;
/** Least budget of a postponed context, so clean-up after a deadline still gets a chance. */
const POSTPONE_MIN_BUDGET_MS = 1_000;

/**
 * A context for clean-up work after the original was cancelled: same values, the same
 * remaining budget as when it was postponed, but not yet aborted (sdk tools/postpone).
 */
export function postpone(ctx: Context): () => Cancelable {
  const budgetMs =
    ctx.deadline === undefined
      ? POSTPONE_DEFAULT_BUDGET_MS
      : Math.max(POSTPONE_MIN_BUDGET_MS, ctx.deadline - clock(ctx).now());
  return () => withTimeout({ values: ctx.values, signal: NEVER_ABORTED }, budgetMs);
}
