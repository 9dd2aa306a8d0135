/**
 * `ocn job submit` following a job through the requester's re-offers, as a child process
 * against a real API server whose requester is a script: the records it serves are the ones
 * the requester role writes (a failed round marked for re-offer, the link to the new job, a
 * no-show's award left open while its re-offer runs). The command exits 0 when the last
 * re-offer is finalized, and non-zero only when the job really ends without a result.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ApiServer, createApiServer, createSilentLogger, type JobRecord } from '@ocn/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const bin = fileURLToPath(new URL('../../dist/bin/ocn.js', import.meta.url))
const ids = ['a', 'b', 'c', 'd'].map((c) => `0x${c.repeat(64)}`)
let dir: string
let server: ApiServer
let api: string
/** what the scripted requester does with the next submission */
let script: 'reoffers' | 'dies' | 'generates' = 'reoffers'
let submittedAt = 0

function ocn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: dir }, cwd: dir, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

type Step = [state: JobRecord['state'], note?: string]

function record(id: string, steps: Step[], detail: Record<string, unknown> = {}): JobRecord {
  const at = submittedAt
  return {
    id,
    role: 'requester',
    state: steps.at(-1)![0],
    kind: 'inference',
    verification: 'replay',
    modelHash: '0x01',
    inputHash: '0x02',
    requester: '0x0000000000000000000000000000000000000001',
    attempts: 1,
    createdAt: at,
    updatedAt: at,
    history: steps.map(([state, note], i) => ({
      state,
      at: at + i,
      ...(note === undefined ? {} : { note }),
    })),
    detail: { role: 'requester', offer: '0x', biddingClosesAt: at + 100, ...detail },
  } as JobRecord
}

/**
 * The requester's records over time (ms since submission): a round without a usable bid,
 * re-offered; a no-show whose award stays open while its re-offer is finalized. Or, with
 * `dies`, a round without bids whose retry budget is spent.
 */
function jobAt(id: string, ms: number): JobRecord | undefined {
  if (script === 'generates') {
    if (id !== ids[0]) return undefined
    const done: Step[] = [['offered'], ['bidding'], ['awarded'], ['committed'], ['finalized']]
    if (ms < 300) return record(id, done.slice(0, 2))
    // the requester fetches and checks the tokens a moment after the job is finalized
    if (ms < 800) return record(id, done)
    const tokens = [
      [5, 6, 7],
      [9, 0, 0],
    ]
    return record(id, done, {
      results: { outputHash: '0x', leafCount: 6, verified: true, mismatchedLeaves: [], tokens },
    })
  }
  if (script === 'dies') {
    if (id !== ids[0]) return undefined
    return ms < 500
      ? record(id, [['offered'], ['bidding']])
      : record(id, [['offered'], ['bidding'], ['failed', 'no usable bid']])
  }
  if (id === ids[0]) {
    if (ms < 400) return record(id, [['offered'], ['bidding']])
    const failed: Step[] = [['offered'], ['bidding'], ['failed', 'no usable bid; re-offered in 600 ms']]
    // the due re-offer is marked, and published later: the command must wait, not fail
    return ms < 1_000
      ? record(id, failed, { reofferDueAt: submittedAt + 1_000 })
      : record(id, failed, { reofferedAs: ids[1] })
  }
  if (id === ids[1]) {
    if (ms < 1_500) return record(id, [['offered'], ['bidding']])
    const awarded: Step[] = [['offered'], ['bidding'], ['awarded']]
    // the provider stays silent past its ETA: re-offered while its award is still open on chain
    return ms < 2_500 ? record(id, awarded) : record(id, awarded, { reofferedAs: ids[2] })
  }
  if (id === ids[2]) {
    const steps: Step[] = [['offered'], ['bidding'], ['awarded'], ['committed'], ['finalized']]
    return record(id, steps.slice(0, ms < 3_000 ? 2 : ms < 3_500 ? 3 : ms < 4_000 ? 4 : 5))
  }
  return undefined
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-job-follow-'))
  await writeFile(join(dir, 'model.onnx'), 'model')
  await writeFile(join(dir, 'inputs.npy'), 'inputs')
  server = createApiServer(
    { port: 0 },
    {
      logger: createSilentLogger(),
      providers: {
        status: async () => ({ version: 't', roles: [], startedAt: 1, uptimeMs: 1, services: {}, jobs: {} }),
        jobs: async () => [],
        job: async (id) => jobAt(id, Date.now() - submittedAt),
        bids: async () => [],
        async submitJob() {
          submittedAt = Date.now()
          return { jobId: ids[0]! }
        },
      },
    },
  )
  await server.start()
  api = server.url!
})

afterAll(async () => {
  await server?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const submit = () =>
  ocn(['job', 'submit', '--api-url', api, '--model', 'model.onnx', '--inputs', 'inputs.npy'])

describe('ocn job submit', () => {
  it('follows a no-bid round and a no-show through their re-offers to the finalized job', async () => {
    script = 'reoffers'
    const { code, stdout, stderr } = await submit()
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toContain(`re-offered as ${ids[1]} (no usable bid; re-offered in 600 ms)`)
    expect(stdout).toContain(`re-offered as ${ids[2]}`)
    expect(stdout).toContain(`job ${ids[2]}`)
    expect(stdout).toContain('state      finalized')
  }, 60_000)

  it('prints the checked tokens of a generate job once the requester holds them', async () => {
    script = 'generates'
    const { code, stdout, stderr } = await ocn([
      ...['job', 'submit', '--api-url', api, '--model', 'model.onnx', '--inputs', 'inputs.npy'],
      ...['--generate', '3', '--stop-token', '0'],
    ])
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toContain('generated tokens (each checked against its committed leaf)')
    expect(stdout).toContain('  prompt 0: 5 6 7\n  prompt 1: 9 0 0')
  }, 60_000)

  it('refuses sampling flags without --generate, and --generate with --state', async () => {
    const alone = await ocn([
      ...['job', 'submit', '--api-url', api, '--model', 'model.onnx', '--inputs', 'inputs.npy'],
      ...['--temperature', '0.7'],
    ])
    expect(alone.code).not.toBe(0)
    expect(alone.stderr).toContain('--temperature goes with --generate')
    const both = await ocn([
      ...['job', 'submit', '--api-url', api, '--model', 'model.onnx', '--inputs', 'inputs.npy'],
      ...['--generate', '3', '--state', 'stateN=state'],
    ])
    expect(both.code).not.toBe(0)
    expect(both.stderr).toContain('--generate makes a generate job: it does not go with --state')
  }, 60_000)

  it('exits non-zero when the job ends without a result and no re-offer follows', async () => {
    script = 'dies'
    const { code, stdout } = await submit()
    expect(code).not.toBe(0)
    expect(stdout).toContain('state      failed')
    expect(stdout).not.toContain('re-offered as')
  }, 60_000)
})
