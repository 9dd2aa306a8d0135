import { readApiToken, toPublicJson } from '@ocn/node'
import { formatEther } from 'viem'
import { type Command, stringFlag } from '../command.js'
import { type DevnetEvent, type DevnetSummary, displayApiUrl, startDevnet } from '../devnet/index.js'
import { CliError, EXIT_FAILURE } from '../errors.js'

function short(id: string): string {
  return id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id
}

function open(amount: bigint | null): string {
  return amount === null ? '-' : `${formatEther(amount)} OPEN`
}

function signedOpen(amount: bigint): string {
  return `${amount >= 0n ? '+' : ''}${formatEther(amount)}`
}

export function summaryText(summary: DevnetSummary): string {
  const lines = [
    '',
    `Devnet summary (chain ${summary.chainId} at ${summary.rpcUrl}, ${Math.round(summary.durationMs / 1000)} s)`,
    `  JobMarket ${summary.contracts.jobMarket}  StakeManager ${summary.contracts.stakeManager}  OPEN ${summary.contracts.token}`,
    '',
    '  job            kind       provider     price              status      challenged  latency   settled',
  ]
  for (const job of summary.jobs) {
    lines.push(
      `  ${job.name.padEnd(14)} ${(job.mode ?? job.kind).padEnd(10)} ${(job.providerName ?? '-').padEnd(12)} ${open(job.price).padEnd(18)} ${job.status.padEnd(11)} ${String(job.challenged).padEnd(11)} ${job.latencyMs === null ? '-'.padEnd(9) : `${job.latencyMs} ms`.padEnd(9)} ${job.settledMs === null ? '-' : `${job.settledMs} ms`}`,
    )
    if (job.error !== undefined) lines.push(`      error: ${job.error}`)
  }
  lines.push('', '  account              OPEN held (change)             staked (change)')
  for (const b of summary.balances) {
    lines.push(
      `  ${b.name.padEnd(20)} ${`${formatEther(b.after.token)} (${signedOpen(b.after.token - b.before.token)})`.padEnd(30)} ${formatEther(b.after.staked)} (${signedOpen(b.after.staked - b.before.staked)})`,
    )
  }
  for (const [name, phase] of Object.entries(summary.phases)) {
    lines.push('', `  ${name}`)
    for (const line of phase.lines ?? [JSON.stringify(toPublicJson(phase.report))]) lines.push(`    ${line}`)
  }
  lines.push('', '  checks')
  for (const [name, passed] of Object.entries(summary.checks))
    lines.push(`    ${passed ? 'ok  ' : 'FAIL'} ${name}`)
  lines.push(
    '',
    summary.ok
      ? 'All checks passed: the honest jobs settled, the cheater was caught, every phase did its part.'
      : 'The devnet run FAILED its checks.',
  )
  return lines.join('\n')
}

export const devnetCommand: Command = {
  path: ['devnet'],
  summary: 'run a whole local network (anvil, 3 providers, a verifier, a requester) and a workload',
  usage: 'ocn devnet [--once] [--json] [--dir <dir>] [--keep] [--jobs <n>] [--no-workload]',
  configFlags: false,
  maxPositionals: 0,
  flags: {
    once: { type: 'boolean', description: 'exit after the summary (exit code 0 only if all checks pass)' },
    dir: {
      type: 'string',
      value: '<dir>',
      description: 'keep the devnet files here (default: a temporary dir)',
    },
    keep: { type: 'boolean', description: 'keep the temporary dir after exit' },
    jobs: {
      type: 'string',
      value: '<n>',
      description: 'inference jobs in the workload, 2 to 99 (default 3)',
    },
    'no-workload': { type: 'boolean', description: 'only bring the network up' },
    'no-training': { type: 'boolean', description: 'leave the training job out of the workload' },
  },
  async run(context) {
    const once = context.flags.once === true
    const jobsText = stringFlag(context.flags, 'jobs')
    // The first job goes to the cheater (it bids lowest); at least one more is an honest one.
    if (jobsText !== undefined && !/^([2-9]|[1-9]\d)$/.test(jobsText))
      throw new CliError('CLI_USAGE', `--jobs must be an integer from 2 to 99 (got "${jobsText}")`)
    if (once && context.flags['no-workload'] === true)
      throw new CliError('CLI_USAGE', '--once needs the workload: it reports on it')
    // Progress goes to stderr with --json: stdout then carries only the summary object.
    const progress = context.json ? context.io.stderr : context.io.stdout
    const t0 = Date.now()
    const say = (text: string) =>
      progress.write(`${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s  ${text}\n`)
    const onEvent = (event: DevnetEvent) => {
      if (event.type === 'step') say(event.message)
      else if (event.type === 'node')
        say(
          `${event.node.name.padEnd(11)} up: ${event.node.roles.join('+')}${event.node.cheater ? ' (cheats)' : ''}, ${event.node.address}, peer ${short(event.node.peerId)}, API ${event.node.api}`,
        )
      else {
        // the provider is known from the award on; before it (offered, bidding) there is none
        const provider = event.job.providerName
        const who =
          provider === null || event.state === 'offered' || event.state === 'bidding'
            ? ''
            : event.state === 'awarded'
              ? ` to ${provider}`
              : event.state === 'committed'
                ? ` by ${provider}`
                : ` (${provider})`
        // a zk job's proof settles it in the commit transaction: it has no verification window
        const window =
          event.state === 'committed' && devnet !== undefined && event.job.verification !== 'zk'
            ? `; verification window ${devnet.deployment.params.challengeWindow} s`
            : event.state === 'committed' && event.job.verification === 'zk'
              ? '; proof checked on-chain'
              : ''
        const extra = `${window}${event.job.error === undefined ? '' : `: ${event.job.error}`}`
        say(`${event.job.name.padEnd(11)} ${short(event.job.id || '-')} ${event.state}${who}${extra}`)
      }
    }

    // Ctrl-C at any point stops every process the devnet started.
    const controller = new AbortController()
    let interrupted: NodeJS.Signals | undefined
    const onSignal = (signal: NodeJS.Signals) => {
      if (interrupted !== undefined) process.exit(130)
      interrupted = signal
      say(`${signal}: stopping the devnet`)
      controller.abort()
    }
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']
    for (const s of signals) process.on(s, onSignal)
    const dir = stringFlag(context.flags, 'dir')
    let devnet: Awaited<ReturnType<typeof startDevnet>> | undefined
    try {
      devnet = await startDevnet(
        {
          signal: controller.signal,
          ...(dir === undefined ? {} : { dir }),
          keep: context.flags.keep === true,
          ...(jobsText === undefined ? {} : { inferenceJobs: Number(jobsText) }),
          ...(context.flags['no-training'] === true ? { trainingJob: false } : {}),
        },
        { onEvent },
      )
      let summary: DevnetSummary | undefined
      if (context.flags['no-workload'] !== true) {
        summary = await devnet.runWorkload()
        progress.write(`${summaryText(summary)}\n`)
      }
      if (!once) {
        say('the network stays up for exploration; Ctrl-C stops it')
        for (const line of await explorationLines(devnet)) say(line)
        await new Promise<void>((resolve) => {
          if (controller.signal.aborted) resolve()
          else controller.signal.addEventListener('abort', () => resolve(), { once: true })
        })
      }
      await devnet.stop()
      const json =
        summary === undefined ? { ok: true } : (JSON.parse(toPublicJson(summary)) as Record<string, unknown>)
      return {
        json,
        text: '',
        printed: !context.json,
        ...(summary !== undefined && !summary.ok ? { exitCode: EXIT_FAILURE } : {}),
      }
    } finally {
      await devnet?.stop()
      for (const s of signals) process.off(s, onSignal)
    }
  },
}

/**
 * What to open while the devnet stays up: each node's console URL, with the node's API token
 * in its fragment (never sent to a server) as `ocn console --print-url` prints it, so the
 * page can submit and stake; its `ocn status` line; the deployment and the RPC.
 */
async function explorationLines(devnet: Awaited<ReturnType<typeof startDevnet>>): Promise<string[]> {
  const lines: string[] = []
  for (const node of devnet.nodes) {
    const token = await readApiToken(node.dataDir)
    const base = displayApiUrl(node.api).replace(/\/$/, '')
    const consoleUrl = token === undefined ? `${base}/` : `${base}/#token=${token}`
    lines.push(`  ${node.name.padEnd(11)} console ${consoleUrl}  ·  ocn status --api-url ${base}`)
  }
  lines.push(`  deployment file ${devnet.dir}/deployment.json, RPC ${devnet.chain.rpcUrl}`)
  return lines
}
