/**
 * `provider.models.onlyApproved` and `requester.models.onlyApproved` across real nodes on a
 * real anvil, with the model's status moved through the real ModelRegistry: a strict provider
 * does not bid on an unregistered, proposed or revoked model; a strict requester refuses to
 * submit one (through the role, POST /jobs and `ocn job submit`) and does not award a job
 * whose model was revoked while the bids came in; an approved model runs; nodes with the
 * options off trade as before. A strict node on a deployment without a registry fails to start.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { approveModel, type Deployment, getJob, proposeModel, revokeModel } from '@ocn/contracts-client'
import { ConfigError, type RequesterRole, RoleError } from '@ocn/node'
import { contentHashOf } from '@ocn/protocol'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  E2E_MODEL_REVIEW_SECONDS,
  fundAndStake,
  increaseTime,
  jobIn,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNode,
  tempDir,
  walletFor,
  writeFixture,
} from './helpers.js'

const OPEN_REQUESTER = 1
const STRICT_REQUESTER = 2
const OPEN_PROVIDER = 3
const STRICT_PROVIDER = 4
const PROPOSER = 5
const TREASURY = 9
/** the chain service's default cache time for a status read, plus a margin */
const STATUS_TTL_MS = 5_500

const bin = fileURLToPath(new URL('../../packages/cli/dist/bin/ocn.js', import.meta.url))

function ocn(args: string[], home: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: home }, cwd: home, timeout: 120_000 },
      (error, stdout) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout })
      },
    )
  })
}

describe('approved models only (in-process nodes, anvil, ModelRegistry)', () => {
  let dir: string
  let chain: Awaited<ReturnType<typeof startChain>>['chain']
  let deployment: Deployment
  let nodes: TestNode[] = []
  let modelA: { path: string; hash: Hex }
  let modelB: { path: string; hash: Hex }
  let inputsPath: string
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const requester = (name: string) => node(name).components.parts.roles.requester as RequesterRole
  const curator = () => walletFor(chain, chain.privateKeys[0]!)
  const registry = () => deployment.addresses.modelRegistry!

  async function propose(hash: Hex): Promise<void> {
    await proposeModel(walletFor(chain, chain.privateKeys[PROPOSER]!), {
      modelRegistry: registry(),
      modelHash: hash,
      storagePointer: 'ipfs://model',
      trainingSpecHash: `0x${'11'.repeat(32)}`,
      evaluationReportHash: `0x${'22'.repeat(32)}`,
    })
  }

  /** The curator approves once the release gate's review period has passed (anvil's clock advanced). */
  async function approveAfterReview(hash: Hex): Promise<void> {
    await increaseTime(chain, E2E_MODEL_REVIEW_SECONDS)
    await approveModel(curator(), { modelRegistry: registry(), modelHash: hash })
  }

  async function refusedOffers(name: string, status: string): Promise<number> {
    const metric = node(name).daemon.registry.getSingleMetric('ocn_provider_unapproved_model_offers_total')
    if (metric === undefined) return 0
    const { values } = await metric.get()
    return values.find((v) => v.labels.status === status)?.value ?? 0
  }

  /** Submits on the open requester and waits for the award: the strict provider must not bid. */
  async function openJobSkippedByStrictProvider(model: { path: string; hash: Hex }, status: string) {
    const before = await refusedOffers('strict-provider', status)
    const { jobId } = await requester('open-requester').submitJob({
      modelPath: model.path,
      inputsPath,
      kind: 'inference',
      verification: 'replay',
    })
    const job = await jobIn(node('open-requester'), jobId, ['awarded', 'committed', 'finalized', 'failed'])
    expect(await node('strict-provider').daemon.state.getJob(jobId)).toBeUndefined()
    expect(await refusedOffers('strict-provider', status)).toBe(before + 1)
    return job
  }

  async function expectSubmitRefused(model: { path: string; hash: Hex }, words: string): Promise<void> {
    const refusal = await requester('strict-requester')
      .submitJob({ modelPath: model.path, inputsPath, kind: 'inference', verification: 'replay' })
      .then(
        () => undefined,
        (err: unknown) => err,
      )
    expect(refusal).toBeInstanceOf(RoleError)
    expect((refusal as RoleError).code).toBe('ROLE_MODEL_NOT_APPROVED')
    expect((refusal as RoleError).shortMessage).toBe(
      `model ${model.hash} is ${words} in the model registry, not approved`,
    )
  }

  beforeAll(async () => {
    if (!existsSync(bin)) throw new Error('build @ocn/node first: npx tsc -p packages/node/tsconfig.json')
    dir = await tempDir()
    ;({ chain, deployment } = await startChain({
      challengeWindow: 30,
      treasuryIndex: TREASURY,
    }))
    await fundAndStake(chain, deployment, OPEN_REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(chain, deployment, STRICT_REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(chain, deployment, OPEN_PROVIDER, 200n * OPEN, 100n * OPEN)
    await fundAndStake(chain, deployment, STRICT_PROVIDER, 200n * OPEN, 100n * OPEN)
    const fixture = await writeFixture(dir)
    inputsPath = fixture.inputsPath
    modelA = {
      path: fixture.modelPath,
      hash: contentHashOf(new Uint8Array(await readFile(fixture.modelPath))),
    }
    // another model of the same shape (its own inputs file goes unused)
    await mkdir(join(dir, 'b'))
    const other = await writeFixture(join(dir, 'b'), 99)
    modelB = { path: other.modelPath, hash: contentHashOf(new Uint8Array(await readFile(other.modelPath))) }
    nodes = await startNodes(chain, deployment, dir, [
      {
        name: 'open-provider',
        accountIndex: OPEN_PROVIDER,
        roles: ['provider'],
        configure: (c) => {
          c.provider.priceFloorPerSample = 10n ** 15n
        },
      },
      {
        // cheaper: whenever it bids, it wins
        name: 'strict-provider',
        accountIndex: STRICT_PROVIDER,
        roles: ['provider'],
        configure: (c) => {
          c.provider.priceFloorPerSample = 10n ** 14n
          c.provider.models.onlyApproved = true
        },
      },
      { name: 'open-requester', accountIndex: OPEN_REQUESTER, roles: ['requester'] },
      {
        name: 'strict-requester',
        accountIndex: STRICT_REQUESTER,
        roles: ['requester'],
        configure: (c) => {
          c.requester.models.onlyApproved = true
          // long enough to revoke the model while the bids come in
          c.requester.biddingWindowMs = 6_000
          c.api = { enabled: true, host: '127.0.0.1', port: 0 }
        },
      },
    ])
  }, 300_000)

  afterAll(async () => {
    for (const n of [...nodes].reverse()) await n.daemon.stop().catch(() => {})
    await chain?.stop()
    if (dir) await removeDir(dir)
  })

  it('options off: an unregistered model trades as before; the strict provider does not bid on it', async () => {
    const job = await openJobSkippedByStrictProvider(modelA, 'none')
    expect(job.state).not.toBe('failed')
    expect(job.provider).toBe(node('open-provider').address)
  })

  it('a strict requester refuses an unregistered model through the role, POST /jobs and `ocn job submit`', async () => {
    await expectSubmitRefused(modelA, 'not registered')

    const api = node('strict-requester').daemon.apiUrl!
    const response = await fetch(`${api}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelPath: modelA.path, inputsPath, kind: 'inference' }),
    })
    expect(response.status).toBe(422)
    const { error } = (await response.json()) as { error: { code: string; reason: string; message: string } }
    expect(error.code).toBe('API_JOB_REJECTED')
    expect(error.reason).toBe('ROLE_MODEL_NOT_APPROVED')
    expect(error.message).toContain(`model ${modelA.hash} is not registered in the model registry`)

    const cli = await ocn(
      ['job', 'submit', '--api-url', api, '--json', '--model', modelA.path, '--inputs', inputsPath],
      dir,
    )
    expect(cli.code).toBe(2)
    const cliError = JSON.parse(cli.stdout).error
    expect(cliError.code).toBe('API_JOB_REJECTED')
    expect(cliError.message).toContain(`model ${modelA.hash} is not registered in the model registry`)
    expect(cliError.message).toContain('ROLE_MODEL_NOT_APPROVED')
    // nothing was recorded or published
    expect(await node('strict-requester').daemon.state.listJobs({ role: 'requester' })).toEqual([])
  })

  it('a proposed model is refused by strict nodes and still traded by open ones', async () => {
    await propose(modelA.hash)
    // its review period passes now, on anvil's clock, so the next test may approve it: before
    // this test's job, whose challenge window the jump must not shorten (a finalized job would
    // give the open provider a record that outranks the cheaper strict one there)
    await increaseTime(chain, E2E_MODEL_REVIEW_SECONDS)
    // the strict provider cached "none" from the last offer: let it expire
    await new Promise((r) => setTimeout(r, STATUS_TTL_MS))
    await expectSubmitRefused(modelA, 'proposed')
    const job = await openJobSkippedByStrictProvider(modelA, 'proposed')
    expect(job.provider).toBe(node('open-provider').address)
  })

  it('an approved model runs on the strict nodes', async () => {
    await approveModel(curator(), { modelRegistry: registry(), modelHash: modelA.hash })
    await new Promise((r) => setTimeout(r, STATUS_TTL_MS))
    const { jobId } = await requester('strict-requester').submitJob({
      modelPath: modelA.path,
      inputsPath,
      kind: 'inference',
      verification: 'replay',
    })
    const job = await jobIn(node('strict-requester'), jobId, ['committed', 'finalized', 'failed'])
    expect(job.state).not.toBe('failed')
    expect(job.provider).toBe(node('strict-provider').address)
    const atProvider = await jobIn(node('strict-provider'), jobId, ['committed', 'finalized'])
    expect(atProvider.resultRoot).toBe(job.resultRoot)
  })

  it('a model revoked while the bids come in is not awarded; afterwards strict nodes refuse it', async () => {
    await propose(modelB.hash)
    await approveAfterReview(modelB.hash)
    const { jobId } = await requester('strict-requester').submitJob({
      modelPath: modelB.path,
      inputsPath,
      kind: 'inference',
      verification: 'replay',
    })
    await revokeModel(curator(), { modelRegistry: registry(), modelHash: modelB.hash })
    const revokedAt = Date.now()
    const job = await jobIn(node('strict-requester'), jobId, ['failed', 'awarded', 'committed'])
    expect(job.state).toBe('failed')
    expect(job.history.at(-1)?.note).toBe(
      `not awarded: model ${modelB.hash} is revoked in the model registry`,
    )
    const onChain = await getJob(curator(), {
      jobMarket: deployment.addresses.jobMarket,
      jobId: jobId as Hex,
    })
    expect(onChain.status).toBe('none')

    await expectSubmitRefused(modelB, 'revoked')
    await new Promise((r) => setTimeout(r, Math.max(0, revokedAt + STATUS_TTL_MS - Date.now())))
    // the open requester publishes it; the open provider bids, the market refuses the award
    const open = await openJobSkippedByStrictProvider(modelB, 'revoked')
    expect(open.state).toBe('failed')
    // every re-offer would be refused the same way: the job ends here, not offered again
    expect(open.history.at(-1)?.note).toContain('(ModelRevoked); not re-offered')
    const after = await node('open-requester').daemon.state.getJob(open.id)
    expect(after?.detail).not.toHaveProperty('reofferDueAt')
  })

  it('a strict node on a deployment without a ModelRegistry fails to start with a typed error', async () => {
    const { modelRegistry: _dropped, ...addresses } = deployment.addresses
    const bare: Deployment = { ...deployment, addresses }
    for (const [role, key] of [
      ['provider', 'provider.models.onlyApproved'],
      ['requester', 'requester.models.onlyApproved'],
    ] as const) {
      const failure = await startNodes(chain, bare, join(dir, `bare-${role}`), [
        {
          name: `bare-${role}`,
          accountIndex: role === 'provider' ? OPEN_PROVIDER : OPEN_REQUESTER,
          roles: [role],
          configure: (c) => {
            c[role].models.onlyApproved = true
          },
        },
      ]).then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(failure).toBeInstanceOf(ConfigError)
      expect((failure as ConfigError).code).toBe('CONFIG_DEPLOYMENT_UNSUITED')
      expect((failure as ConfigError).key).toBe(key)
    }
  })
})
