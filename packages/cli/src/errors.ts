import { NodeError } from '@ocn/node'

export type CliErrorCode = 'CLI_USAGE' | 'CLI_UNKNOWN_COMMAND' | 'CLI_PASSPHRASE'

/** A mistake in how the command was called; the message says how to call it instead. */
export class CliError extends NodeError<CliErrorCode> {
  override name = 'CliError'
}

/** Exit codes: 0 success, 1 a failure the user did not cause, 2 a user error (bad input, missing keys...). */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USER_ERROR = 2
