// One error base for the whole mesh: a gRPC status code, a message that says what is wrong and
// where, and an optional cause. The server edge maps it to a gRPC status (sdk/grpc/server.ts).
import { status } from '@grpc/grpc-js';

export class NsmError extends Error {
  readonly isNsmError = true;
  constructor(
    readonly code: status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NsmError';
  }
}

export function isNsmError(e: unknown): e is NsmError {
  return typeof e === 'object' && e !== null && (e as { isNsmError?: unknown }).isNsmError === true;
}

export const invalidArgument = (message: string, cause?: unknown) =>
  new NsmError(status.INVALID_ARGUMENT, message, { cause });
export const notFound = (message: string, cause?: unknown) =>
  new NsmError(status.NOT_FOUND, message, { cause });
export const alreadyExists = (message: string, cause?: unknown) =>
  new NsmError(status.ALREADY_EXISTS, message, { cause });
export const unavailable = (message: string, cause?: unknown) =>
  new NsmError(status.UNAVAILABLE, message, { cause });
export const internal = (message: string, cause?: unknown) =>
  new NsmError(status.INTERNAL, message, { cause });
export const failedPrecondition = (message: string, cause?: unknown) =>
  new NsmError(status.FAILED_PRECONDITION, message, { cause });

export function getErrorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The gRPC status of any thrown value: NsmError and grpc ServiceError keep theirs, others are UNKNOWN. */
export function getErrorCode(e: unknown): status {
  if (isNsmError(e)) return e.code;
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number') {
    const code = (e as { code: number }).code;
    if (code >= 0 && code <= 16) return code as status;
  }
  return status.UNKNOWN;
}

/** "failed to <verb> <object>: <cause>", keeping the cause's status code. */
export function wrap(e: unknown, what: string): NsmError {
  return new NsmError(getErrorCode(e), `${what}: ${getErrorMessage(e)}`, { cause: e });
}
