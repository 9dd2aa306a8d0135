import { toPublicJson } from '@ocn/node'
import { type Command, stringFlag } from '../command.js'
import { type DevnetEvent, type DevnetSummary, displayApiUrl } from '../devnet/devnet.js'
import { CliError, EXIT_FAILURE } from '../errors.js'
import { defaultScenario, readScenario, type TestnetScenario } from '../testnet/scenario.js'
import { startTestnet, type Testnet } from '../testnet/testnet.js'
import { summaryText } from './devnet.js'

/** The checks that apply: "cheater caught" only where the scenario has a cheater. */
export function testnetChecks(summary: DevnetSummary, scenario: TestnetScenario): Record<string, boolean> {
  const hasCheater = scenario.nodes.some((n) => n.cheater)
  return Object.fromEntries(
    Object.entries(summary.checks).filter(([name]) => hasCheater || name !== 'cheaterCaught'),
  )
}

async function scenarioFrom(flags: Record<string, unknown>): Promise<TestnetScenario> {
  const file = stringFlag(flags as never, 'scenario')
  const nodesText = stringFlag(flags as never, 'nodes')
  if (file !== undefined && nodesText !== undefined)
    throw new CliError('CLI_USAGE', '--nodes and --scenario exclude each other: the scenario lists its nodes')
  if (file !== undefined) return readScenario(file)
  if (nodesText !== undefined && !/^\d{1,3}$/.test(nodesText))
    throw new CliError('CLI_USAGE', `--nodes must be an integer (got "${nodesText}")`)
  return defaultScenario(nodesText === undefined ? 6 : Number(nodesText))
}

function progressLine(event: DevnetEvent): string {
  if (event.type === 'step') return event.message
  if (event.type === 'node')
    return `${event.node.name.padEnd(12)} up: ${event.node.roles.join('+')}, API ${displayApiUrl(event.node.api)}`
  return `${event.job.name.padEnd(12)} ${event.state}${event.job.providerName === null ? '' : ` (${event.job.providerName})`}`
}

/** Resolves once the signal aborts. */
function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
}

export const testnetCommand: Command = {
  path: ['testnet'],
  summary: 'run N ocn daemons, each in its own network namespace behind a shaped, delayed link (needs root)',
  usage:
    'ocn testnet [--nodes <n> | --scenario <file>] [--jobs <n>] [--once] [--json] [--dir <dir>] [--keep]',
  configFlags: false,
  maxPositionals: 0,
  flags: {
    nodes: {
      type: 'string',
      value: '<n>',
      description: 'nodes, 3 to 240 (default 6): a requester, verifiers, providers',
    },
    scenario: {
      type: 'string',
      value: '<file>',
      description: 'JSON scenario: nodes (roles, stake, prices, faults), links, seeds',
    },
    jobs: {
      type: 'string',
      value: '<n>',
      description: 'inference jobs in the workload, 1 to 99 (default 1)',
    },
    once: { type: 'boolean', description: 'exit after the summary (exit code 0 only if all checks pass)' },
    dir: {
      type: 'string',
      value: '<dir>',
      description: 'keep the testnet files here (default: a temporary dir)',
    },
    keep: { type: 'boolean', description: 'keep the temporary dir after exit' },
    'no-workload': { type: 'boolean', description: 'only bring the network up' },
  },
  async run(context) {
    const scenario = await scenarioFrom(context.flags)
    const jobsText = stringFlag(context.flags, 'jobs')
    if (jobsText !== undefined && !/^([1-9]|[1-9]\d)$/.test(jobsText))
      throw new CliError('CLI_USAGE', `--jobs must be an integer from 1 to 99 (got "${jobsText}")`)
    const once = context.flags.once === true
    const progress = context.json ? context.io.stderr : context.io.stdout
    const t0 = Date.now()
    const onEvent = (event: DevnetEvent) =>
      progress.write(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s  ${progressLine(event)}\n`)
    // Ctrl-C stops every process and removes every namespace and link the testnet made.
    const controller = new AbortController()
    const onSignal = (signal: NodeJS.Signals) => {
      if (controller.signal.aborted) process.exit(130)
      onEvent({ type: 'step', message: `${signal}: stopping the testnet` })
      controller.abort()
    }
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']
    for (const s of signals) process.on(s, onSignal)
    const dir = stringFlag(context.flags, 'dir')
    let testnet: Testnet | undefined
    try {
      testnet = await startTestnet(
        {
          scenario,
          devnet: {
            inferenceJobs: jobsText === undefined ? 1 : Number(jobsText),
            trainingJob: false,
            // the scenarios check the network's paths, not the job kinds
            generateJobs: false,
            sequenceJob: false,
            phases: [],
            cheater: scenario.nodes.some((n) => n.cheater),
          },
          ...(dir === undefined ? {} : { dir }),
          keep: context.flags.keep === true,
          signal: controller.signal,
        },
        { onEvent },
      )
      let summary: DevnetSummary | undefined
      let checks: Record<string, boolean> = {}
      if (context.flags['no-workload'] !== true) {
        summary = await testnet.devnet.runWorkload()
        checks = testnetChecks(summary, scenario)
        progress.write(`${summaryText({ ...summary, checks, ok: Object.values(checks).every(Boolean) })}\n`)
      }
      if (!once) {
        onEvent({ type: 'step', message: 'the testnet stays up; Ctrl-C stops it and removes its namespaces' })
        await untilAborted(controller.signal)
      }
      const ok = Object.values(checks).every(Boolean)
      const json = {
        ok,
        delay: testnet.network.delay,
        namespaces: testnet.network.namespaces,
        ...(summary === undefined
          ? {}
          : { summary: JSON.parse(toPublicJson({ ...summary, checks, ok })) as unknown }),
      }
      return { json, text: '', printed: !context.json, ...(ok ? {} : { exitCode: EXIT_FAILURE }) }
    } finally {
      await testnet?.stop()
      for (const s of signals) process.off(s, onSignal)
    }
  },
}
