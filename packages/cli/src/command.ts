import type { ProviderFaultPlan } from '@ocn/node'
import type { CliIo } from './io.js'

export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>

export interface FlagSpec {
  type: 'string' | 'boolean'
  multiple?: boolean
  short?: string
  /** Help text; flags without one are still accepted but not listed. */
  description?: string
  /** Placeholder shown in help, e.g. `<file>`. */
  value?: string
}

/**
 * Components the caller of the CLI composes into the node it starts, none of them settings a
 * user writes: the devnet's faulty node (bin/faulty-node.ts) passes its provider fault plan.
 */
export interface CliComponents {
  providerFaults?: ProviderFaultPlan
}

export interface CommandContext {
  io: CliIo
  flags: FlagValues
  positionals: string[]
  json: boolean
  components?: CliComponents
}

/** What a command reports: one JSON object for `--json`, text otherwise. */
export interface CommandResult {
  json: Record<string, unknown>
  text: string
  /** The command wrote its own output (long-running commands announce readiness early). */
  printed?: boolean
  note?: string
  /** Exit code when the command ran but its outcome is a failure (`ocn devnet --once`). */
  exitCode?: number
}

export interface Command {
  /** Words after `ocn`, e.g. `['config', 'show']`. */
  path: readonly string[]
  summary: string
  usage: string
  flags: Record<string, FlagSpec>
  /** Accepts every configuration flag (`--rpc-url`, `--api-port`, ...). */
  configFlags: boolean
  /** Most positional arguments after the command path. */
  maxPositionals: number
  run(context: CommandContext): Promise<CommandResult>
}

export function stringFlag(flags: FlagValues, name: string): string | undefined {
  const value = flags[name]
  return typeof value === 'string' ? value : undefined
}
