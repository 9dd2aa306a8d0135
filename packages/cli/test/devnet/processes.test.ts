/**
 * The devnet's process helpers beyond `ocn start`: `runOcn` runs a one-shot command (the
 * channels phase's `ocn infer`) and reads its JSON result; `spawnNode` with `command` starts
 * another long-running command (`ocn serve`) with its own log and reports its failure to
 * start as a typed error.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DevnetError } from '../../src/devnet/errors.js'
import { DEVNET_FAULTS_ENV } from '../../src/devnet/faults.js'
import { faultyNodeBinPath, ocnBinPath, runOcn, spawnNode } from '../../src/devnet/processes.js'

let dir: string

beforeAll(async () => {
  if (!existsSync(ocnBinPath()))
    throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-devnet-processes-'))
})

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('devnet processes', () => {
  it('the faulty node refuses a fault plan that does not parse with one line and exit code 2', () => {
    for (const plan of ['{not json', '{"fraction":2}', '{"fraction":0.5,"forgeAttribution":"yes"}']) {
      const run = spawnSync(
        process.execPath,
        [faultyNodeBinPath(), 'start', '--data-dir', join(dir, 'faulty')],
        {
          env: { PATH: process.env.PATH ?? '', HOME: dir, [DEVNET_FAULTS_ENV]: plan },
          encoding: 'utf8',
          timeout: 30_000,
        },
      )
      expect(run.status).toBe(2)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
      expect(run.stderr).toContain('OCN_DEVNET_FAULTS is not a fault plan (DEVNET_OPTIONS_INVALID)')
    }
  })

  it('runOcn returns the exit code and the last JSON line, success or error', async () => {
    const logPath = join(dir, 'run.log')
    const version = await runOcn(['--version', '--json'], { logPath, timeoutMs: 30_000 })
    expect(version.code).toBe(0)
    expect(typeof version.result?.version).toBe('string')

    const usage = await runOcn(['infer', '--json', '--data-dir', join(dir, 'nowhere'), '--requests', 'x'], {
      logPath,
      timeoutMs: 30_000,
    })
    expect(usage.code).not.toBe(0)
    expect((usage.result?.error as { code?: string } | undefined)?.code).toMatch(/^[A-Z_]+$/)
  })

  it('spawnNode runs another command and reports its failure to start, logging where asked', async () => {
    const logPath = join(dir, 'serve.log')
    const error = await spawnNode({
      name: 'serve without a model',
      command: ['serve'],
      dataDir: join(dir, 'no-node'),
      logPath,
      args: ['--price', '0.001'],
      timeoutMs: 30_000,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DevnetError)
    expect((error as DevnetError).code).toBe('DEVNET_NODE_FAILED')
    expect((error as DevnetError).message).toContain('serve without a model failed to start')
    expect(existsSync(logPath)).toBe(true)
    expect(existsSync(join(dir, 'no-node', 'node.log'))).toBe(false)
  })
})
