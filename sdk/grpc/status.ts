// The one place where thrown errors become gRPC statuses (server edge), and gRPC statuses become
// errors again (client edge). NsmError keeps its code; anything else is UNKNOWN with its message.
import { Metadata, type ServiceError, type StatusObject, status } from '@grpc/grpc-js';
import { getErrorCode, getErrorMessage, NsmError } from '../errors/index.js';

export function toStatus(e: unknown): Partial<StatusObject> {
  return { code: getErrorCode(e), details: getErrorMessage(e), metadata: new Metadata() };
}

/** Turns a failed call into an NsmError that keeps the status code and adds the caller's context. */
export function fromServiceError(e: unknown, what: string): NsmError {
  const err = e as Partial<ServiceError>;
  const code = typeof err.code === 'number' ? (err.code as status) : status.UNKNOWN;
  const details = err.details || getErrorMessage(e);
  return new NsmError(code, `${what}: ${details}`, { cause: e });
}

/** grpc-js accepts "unix:///abs/path" and "host:port"; we also accept "tcp://host:port". */
export function grpcTarget(url: string): string {
  if (url.startsWith('tcp://')) return url.slice('tcp://'.length);
  return url;
}
