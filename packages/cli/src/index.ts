/**
 * @ocn/cli: the `ocn` command line and the local devnet, over the daemon library @ocn/node.
 */
export type { CliComponents, Command, CommandContext, CommandResult, FlagSpec } from './command.js'
export * from './devnet/index.js'
export { CliError, type CliErrorCode, EXIT_FAILURE, EXIT_OK, EXIT_USER_ERROR } from './errors.js'
export { type CliIo, processIo } from './io.js'
export { PASSPHRASE_ENV, resolvePassphrase } from './passphrase.js'
export {
  createProgressBar,
  type ProgressBar,
  type ProgressBarOptions,
  renderProgressLine,
} from './progress.js'
export { commandHelp, commands, generalHelp, runCli } from './run.js'
export * from './testnet/index.js'
