// A configuration value that cannot be used: names the variable, says what is wrong, shows the value.
import { status } from '@grpc/grpc-js';
import { NsmError } from '../../errors/index.js';

export class ConfigError extends NsmError {
  readonly isConfigError = true;
  constructor(
    /** The environment variable, e.g. `NSM_EXPIRE_PERIOD`. */
    readonly env: string,
    /** What is wrong, e.g. `not a duration (use 750ms, 15s, 1m, 1h)`. */
    readonly problem: string,
    /** The raw value that was read, when there was one. */
    readonly value?: string,
  ) {
    super(
      status.INVALID_ARGUMENT,
      `${env}: ${problem}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}`,
    );
    this.name = 'ConfigError';
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return typeof e === 'object' && e !== null && (e as { isConfigError?: unknown }).isConfigError === true;
}
