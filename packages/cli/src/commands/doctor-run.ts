/**
 * `ocn doctor`: every check of checks.ts in order, the later ones skipped where an earlier
 * one leaves nothing to look at (no keys: no account to read on the chain).
 */
import { existsSync } from 'node:fs'
import { type NodeConfig, nodeKeyPaths, readNodeKeyInfo } from '@ocn/node'
import {
  type CheckResult,
  checkBootstrap,
  checkChainAndFunds,
  checkDisk,
  checkExecution,
  checkKeys,
  checkListen,
  checkNodeVersion,
  type DoctorProbes,
} from './doctor-checks.js'

export * from './doctor-checks.js'
export { realDoctorProbes } from './doctor-probes.js'

export interface DoctorOptions {
  config: NodeConfig
  probes: DoctorProbes
  /** Whether the node runs now (it holds its listen ports then). */
  running: boolean
  nodeVersion?: string
}

export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const { config, probes } = options
  const results: CheckResult[] = [checkNodeVersion(options.nodeVersion ?? process.versions.node)]
  const keys = await checkKeys(nodeKeyPaths(config.dataDir))
  results.push(keys)
  if (keys.status === 'ok') {
    const { address } = await readNodeKeyInfo(config.dataDir)
    results.push(...checkChainAndFunds(await probes.chain(config, address), config))
  } else {
    results.push(
      { name: 'chain', status: 'skip', message: 'no usable keys, so no account to look up' },
      { name: 'funds', status: 'skip', message: 'no usable keys, so no account to look up' },
    )
  }
  results.push(await checkListen(config.network.listen, options.running, probes))
  results.push(await checkBootstrap(config.network.bootstrap, probes))
  results.push(checkExecution(config, probes.executionProviders()))
  const diskPath = existsSync(config.dataDir) ? config.dataDir : '.'
  results.push(checkDisk(diskPath, await probes.freeBytes(diskPath)))
  return results
}

const MARK: Record<CheckResult['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' }

/** One line a check, and under a warning or failure the line that says what to do. */
export function doctorText(results: CheckResult[]): string {
  const lines = results.flatMap((r) => [
    `${MARK[r.status]} ${r.name.padEnd(9)} ${r.message}`,
    ...(r.fix === undefined ? [] : [`     ${' '.repeat(9)} fix: ${r.fix}`]),
  ])
  const failed = results.filter((r) => r.status === 'fail').length
  lines.push(failed === 0 ? 'all checks passed' : `${failed} check(s) failed`)
  return lines.join('\n')
}
