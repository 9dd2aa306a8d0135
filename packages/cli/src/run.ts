import { type ParseArgsConfig, parseArgs } from 'node:util'
import { configFlagOptions, configOptions, isNodeError, nodeVersion } from '@ocn/node'
import type { CliComponents, Command, FlagSpec, FlagValues } from './command.js'
import { balanceCommand } from './commands/balance.js'
import { configShowCommand } from './commands/config-show.js'
import { consoleCommand } from './commands/console.js'
import { datanetCommands } from './commands/datanet.js'
import { devnetCommand } from './commands/devnet.js'
import { doctorCommand } from './commands/doctor.js'
import { govCommands } from './commands/gov.js'
import { channelCommands } from './commands/infer.js'
import { initCommand } from './commands/init.js'
import { jobResultsCommand, jobStatusCommand, jobSubmitCommand } from './commands/job.js'
import { marketCommands } from './commands/market.js'
import { modelCommands } from './commands/model.js'
import { modelMergeLoraCommand } from './commands/model-lora.js'
import { providerStartCommand, requesterStartCommand, verifierStartCommand } from './commands/role-start.js'
import { stakeCommand } from './commands/stake.js'
import { startCommand } from './commands/start.js'
import { statusCommand } from './commands/status.js'
import { testnetCommand } from './commands/testnet.js'
import { unstakeCommand } from './commands/unstake.js'
import { zkCommands } from './commands/zk.js'
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USER_ERROR } from './errors.js'
import { type CliIo, processIo } from './io.js'

/** The commands this build can run, in the order `ocn --help` lists them. */
export const commands: readonly Command[] = [
  initCommand,
  startCommand,
  statusCommand,
  consoleCommand,
  configShowCommand,
  stakeCommand,
  unstakeCommand,
  balanceCommand,
  ...marketCommands,
  doctorCommand,
  providerStartCommand,
  verifierStartCommand,
  requesterStartCommand,
  jobSubmitCommand,
  jobStatusCommand,
  jobResultsCommand,
  devnetCommand,
  testnetCommand,
  ...channelCommands,
  ...govCommands,
  ...zkCommands,
  ...datanetCommands,
  ...modelCommands,
  modelMergeLoraCommand,
]

type ParseOptions = NonNullable<ParseArgsConfig['options']>

const globalFlags: Record<string, FlagSpec> = {
  json: { type: 'boolean', description: 'print one JSON object (errors too)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version' },
  'data-dir': {
    type: 'string',
    value: '<dir>',
    description: 'data directory (default ~/.ocn, or OCN_DATA_DIR)',
  },
  config: {
    type: 'string',
    value: '<file>',
    description: 'config file (default <data-dir>/config.json, or OCN_CONFIG)',
  },
  'log-level': {
    type: 'string',
    value: '<level>',
    description: 'trace, debug, info, warn, error, fatal or silent',
  },
  'log-format': { type: 'string', value: '<format>', description: 'auto, json or pretty' },
}

function toParseOptions(flags: Record<string, FlagSpec>): ParseOptions {
  const options: ParseOptions = {}
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = {
      type: spec.type,
      ...(spec.multiple === true ? { multiple: true } : {}),
      ...(spec.short === undefined ? {} : { short: spec.short }),
    }
  }
  return options
}

function optionsFor(command: Command | undefined): ParseOptions {
  return {
    ...(command?.configFlags === true ? configFlagOptions() : {}),
    ...toParseOptions(globalFlags),
    ...toParseOptions(command?.flags ?? {}),
  }
}

function allOptions(): ParseOptions {
  const merged: ParseOptions = { ...configFlagOptions(), ...toParseOptions(globalFlags) }
  for (const command of commands) Object.assign(merged, toParseOptions(command.flags))
  return merged
}

function findCommand(positionals: readonly string[]): Command | undefined {
  let best: Command | undefined
  for (const command of commands) {
    const matches = command.path.every((word, index) => positionals[index] === word)
    if (matches && command.path.length > (best?.path.length ?? 0)) best = command
  }
  return best
}

function flagLine(name: string, spec: FlagSpec): string {
  const left = `  --${name}${spec.value === undefined ? '' : ` ${spec.value}`}${spec.short === undefined ? '' : `, -${spec.short}`}`
  return `${left.padEnd(34)} ${spec.description ?? ''}`
}

export function generalHelp(): string {
  const lines = ['Usage: ocn <command> [flags]', '', 'Commands:']
  for (const command of commands) lines.push(`  ${command.path.join(' ').padEnd(16)} ${command.summary}`)
  lines.push('', 'Global flags:')
  for (const [name, spec] of Object.entries(globalFlags)) lines.push(flagLine(name, spec))
  lines.push('', 'Run `ocn <command> --help` for its flags; every option is described in docs/node.md.')
  return lines.join('\n')
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: ${command.usage}`, '', command.summary]
  const own = Object.entries(command.flags)
  if (own.length > 0) {
    lines.push('', 'Flags:')
    for (const [name, spec] of own) lines.push(flagLine(name, spec))
  }
  if (command.configFlags) {
    lines.push('', 'Config flags (override the config file and OCN_* variables):')
    for (const spec of configOptions) {
      if (spec.key === 'dataDir' || spec.key === 'logLevel' || spec.key === 'logFormat') continue
      const name = spec.type === 'boolean' ? `${spec.flag}, --no-${spec.flag}` : `${spec.flag} <value>`
      lines.push(`  --${name.padEnd(32)} ${spec.doc}`)
    }
  }
  lines.push('', 'Global flags:')
  for (const [name, spec] of Object.entries(globalFlags)) lines.push(flagLine(name, spec))
  return lines.join('\n')
}

function parse(argv: readonly string[], options: ParseOptions, strict: boolean) {
  try {
    return parseArgs({ args: [...argv], options, strict, allowPositionals: true })
  } catch (cause) {
    // Node's messages append advice about '--'; the first sentence is the useful part.
    const message = (cause as Error).message.split('. ')[0] ?? 'invalid arguments'
    throw new CliError('CLI_USAGE', `${message.replace(/\.$/, '')}; run \`ocn --help\``, { cause })
  }
}

function errorLine(error: unknown): { code: string; message: string; exit: number } {
  if (isNodeError(error)) {
    const details = error.details === undefined ? '' : `; ${error.details}`
    return { code: error.code, message: `${error.shortMessage}${details}`, exit: EXIT_USER_ERROR }
  }
  const message = error instanceof Error ? error.message : String(error)
  return { code: 'INTERNAL', message: `internal error: ${message}`, exit: EXIT_FAILURE }
}

/**
 * Runs `ocn` with `argv` (without node and script); resolves to the exit code. `components`
 * go into the node a command starts (the devnet's faulty node passes its fault plan).
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo = processIo(),
  components: CliComponents = {},
): Promise<number> {
  const json = argv.includes('--json')
  const write = (stream: NodeJS.WritableStream, text: string): void => {
    if (text !== '') stream.write(text.endsWith('\n') ? text : `${text}\n`)
  }
  try {
    const loose = parse(argv, allOptions(), false)
    // --version and --help win over any command: `ocn init --version` must not create keys.
    if (loose.values.version === true) {
      write(io.stdout, json ? JSON.stringify({ version: nodeVersion() }) : `ocn ${nodeVersion()}`)
      return EXIT_OK
    }
    const helpWords = loose.positionals[0] === 'help' ? loose.positionals.slice(1) : undefined
    const command = findCommand(helpWords ?? loose.positionals)
    const wantsHelp = loose.values.help === true || helpWords !== undefined
    if (wantsHelp || loose.positionals.length === 0) {
      const text = command === undefined ? generalHelp() : commandHelp(command)
      write(io.stdout, json ? JSON.stringify({ help: text }) : text)
      // Bare `ocn` is a usage error: it did not say what to do.
      return wantsHelp ? EXIT_OK : EXIT_USER_ERROR
    }
    if (command === undefined) {
      const words = loose.positionals.join(' ')
      throw new CliError(
        'CLI_UNKNOWN_COMMAND',
        `unknown command "${words}"; run \`ocn --help\` for the commands`,
      )
    }
    const strict = parse(argv, optionsFor(command), true)
    const positionals = strict.positionals.slice(command.path.length)
    if (positionals.length > command.maxPositionals) {
      throw new CliError(
        'CLI_USAGE',
        `unexpected argument "${positionals[command.maxPositionals]}"; usage: ${command.usage}`,
      )
    }
    const result = await command.run({
      io,
      flags: strict.values as FlagValues,
      positionals,
      json,
      components,
    })
    if (result.printed !== true) write(io.stdout, json ? JSON.stringify(result.json) : result.text)
    return result.exitCode ?? EXIT_OK
  } catch (error) {
    const line = errorLine(error)
    if (json) write(io.stdout, JSON.stringify({ error: { code: line.code, message: line.message } }))
    else write(io.stderr, `error: ${line.message}`)
    if (line.exit === EXIT_FAILURE && !json && error instanceof Error && error.stack !== undefined) {
      write(io.stderr, error.stack)
    }
    return line.exit
  }
}
