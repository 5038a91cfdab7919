// The one place where thrown errors become gRPC statuses (server edge, `toStatus`), and where a
// failed call becomes an error again (client edge, `callError`). NsmError keeps its code; anything
// else is UNKNOWN with its message.
import { Metadata, type ServiceError, type StatusObject, status } from '@grpc/grpc-js';
import type { Context } from '../core/context.js';
import { getErrorCode, getErrorMessage, NsmError } from '../errors/index.js';

/**
 * Longest status message sent. The message travels in an HTTP/2 trailer, and a trailer past the
 * peer's header-list limit (16 KiB in grpc-js) is not delivered: the call never ends and the next
 * calls on the connection fail. A message quoting a caller's 100 kB name did exactly that.
 */
export const MAX_STATUS_DETAILS_CHARS = 4096;

/** `s` cut to `max` characters, saying how much was cut. */
export function truncate(s: string, max = MAX_STATUS_DETAILS_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters)`;
}

/** Percent-encoded size the details may take (non-ASCII text grows up to 9 times when encoded). */
const MAX_ENCODED_DETAILS = 8192;

export function toStatus(e: unknown): Partial<StatusObject> {
  let details = truncate(getErrorMessage(e));
  if (encodeURIComponent(details).length > MAX_ENCODED_DETAILS) details = truncate(details, 900);
  return { code: getErrorCode(e), details, metadata: new Metadata() };
}

/** The frames of whoever started a call (see callerStack). */
export interface CallerStack {
  readonly frames: string;
}

/**
 * The stack of whoever starts a call, taken before the call goes async (grpc-js does the same).
 * V8 records the frames now and formats them only when `stack` is read: here, only when the call
 * failed (formatting on every call was ~2% of a daemon's CPU).
 */
export function callerStack(): CallerStack {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callerStack);
  return {
    get frames() {
      return holder.stack?.split('\n').slice(1).join('\n') ?? '';
    },
  };
}

/** Why `ctx` was aborted, as a status: DEADLINE_EXCEEDED once its deadline passed, else CANCELLED. */
function abortStatus(ctx: Context): { code: status; why: string } {
  const reason: unknown = ctx.signal.reason;
  const why = reason === undefined ? 'context cancelled' : getErrorMessage(reason);
  const reasonCode = getErrorCode(reason);
  if (reasonCode === status.DEADLINE_EXCEEDED || reasonCode === status.CANCELLED)
    return { code: reasonCode, why };
  const timedOut =
    (reason instanceof Error && reason.name === 'TimeoutError') ||
    (ctx.deadline !== undefined && Date.now() >= ctx.deadline);
  return { code: timedOut ? status.DEADLINE_EXCEEDED : status.CANCELLED, why };
}

/**
 * The error a caller sees when a call fails: "<what>: <cause>", where <cause> is the peer's status
 * details (already "failed to ... at <next hop>: ..." when the peer is one of ours, so every hop adds
 * exactly one prefix). The caller's own abort wins over what gRPC reports: a cancelled ctx gives
 * CANCELLED, an expired one DEADLINE_EXCEEDED. The stack is the caller's (`stack` from callerStack),
 * not grpc-js internals.
 */
export function callError(
  e: unknown,
  what: string,
  ctx: Context | undefined,
  stack: string | CallerStack,
): NsmError {
  let err: NsmError;
  if (ctx?.signal.aborted) {
    const { code, why } = abortStatus(ctx);
    err = new NsmError(code, `${what}: ${why}`, e === undefined ? undefined : { cause: e });
  } else {
    const se = e as Partial<ServiceError>;
    const code = typeof se.code === 'number' ? (se.code as status) : getErrorCode(e);
    const details = se.details || getErrorMessage(e);
    err = new NsmError(code, `${what}: ${details}`, { cause: e });
  }
  err.stack = `${err.name}: ${err.message}\n${typeof stack === 'string' ? stack : stack.frames}`;
  return err;
}

/** grpc-js accepts "unix:///abs/path" and "host:port"; we also accept "tcp://host:port". */
export function grpcTarget(url: string): string {
  if (url.startsWith('tcp://')) return url.slice('tcp://'.length);
  return url;
}
