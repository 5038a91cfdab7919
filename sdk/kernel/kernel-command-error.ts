// The error of a failed iproute2 command: which command, in which namespace, and what iproute2 said.
// The gRPC code follows iproute2's message where it clearly means something (a name already taken is
// ALREADY_EXISTS, a missing device or namespace is NOT_FOUND); anything else is INTERNAL.
import { status } from '@grpc/grpc-js';
import { NsmError } from '../errors/index.js';

export class KernelCommandError extends NsmError {
  readonly isKernelCommandError = true;
  /** The failing command without the leading "ip", or "" when the process failed before running one. */
  readonly command: string;
  /** iproute2's (or nsenter's) error output for this command, trimmed. */
  readonly stderr: string;
  /** The namespace path the command ran in; null for the caller's own namespace. */
  readonly netns: string | null;

  constructor(opts: {
    command: string;
    stderr: string;
    netns: string | null;
    code?: status;
    cause?: unknown;
  }) {
    const where = opts.netns ?? 'the current network namespace';
    const what = opts.command ? `run "ip ${opts.command}"` : 'run ip';
    super(
      opts.code ?? kernelErrorCode(opts.stderr),
      `failed to ${what} in ${where}: ${opts.stderr || 'no error output'}`,
      {
        cause: opts.cause,
      },
    );
    this.name = 'KernelCommandError';
    this.command = opts.command;
    this.stderr = opts.stderr;
    this.netns = opts.netns;
  }
}

export function isKernelCommandError(e: unknown): e is KernelCommandError {
  return (
    typeof e === 'object' &&
    e !== null &&
    (e as { isKernelCommandError?: unknown }).isKernelCommandError === true
  );
}

const NOT_FOUND_PATTERNS = [
  /Cannot find device/,
  /does not exist/,
  /No such device/,
  /No such process/,
  /No such file or directory/,
  /Cannot open network namespace/,
];

/** The gRPC status that best describes an iproute2 error message. */
export function kernelErrorCode(stderr: string): status {
  if (/File exists|already exists/.test(stderr)) return status.ALREADY_EXISTS;
  if (NOT_FOUND_PATTERNS.some((p) => p.test(stderr))) return status.NOT_FOUND;
  if (/Operation not permitted|Permission denied/.test(stderr)) return status.PERMISSION_DENIED;
  return status.INTERNAL;
}
