/**
 * Proof of Attribution through the real roles: a training job on a datanet names
 * `tracin-cp-v1` in its spec; the provider trains, computes each contributor's influence in
 * the attributor's child process and commits the result's hash as the leaf after the
 * checkpoints; the verifier samples and replays it like a segment; the requester gets
 * attribution.json. A provider that forges the weights is challenged on that leaf and slashed.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCheatingFaultPlan, writeDatanetFixture } from '@ocn/cli'
import { getJob } from '@ocn/contracts-client'
import type { attribution, RequesterRole, VerificationReport } from '@ocn/node'
import { attributionWeightsTree } from '@ocn/protocol'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  finalizedOncePassed,
  fundAndStake,
  jobIn,
  juryConviction,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNode,
  tempDir,
  waitFor,
  writeFixture,
} from './helpers.js'

const REQUESTER = 1
const HONEST = 2
const FORGER = 3
const VERIFIER = 4
const JUROR = 5
const TREASURY = 9
const CHALLENGE_WINDOW = 20
// contributor payout addresses: accounts without any role
const CONTRIBUTORS = [6, 7, 8]

describe('attribution in the job lifecycle (in-process nodes, anvil, ORT)', () => {
  let dir: string
  let net: Awaited<ReturnType<typeof startChain>>
  let nodes: TestNode[]
  let fixture: Awaited<ReturnType<typeof writeDatanetFixture>>
  let modelPath: string
  let jobMarket: `0x${string}`
  let client: Parameters<typeof getJob>[0]
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const requester = () => node('requester').components.parts.roles.requester as RequesterRole
  const submit = () =>
    requester().submitJob({
      modelPath,
      inputsPath: fixture.inputsPath,
      trainingSpecPath: fixture.trainingSpecPath,
      datanetManifestPath: fixture.manifestPath,
      kind: 'training',
      verification: 'replay',
    })

  beforeAll(async () => {
    dir = await tempDir()
    net = await startChain({ challengeWindow: CHALLENGE_WINDOW, treasuryIndex: TREASURY })
    const { chain, deployment, deployer } = net
    jobMarket = deployment.addresses.jobMarket
    client = deployer as unknown as Parameters<typeof getJob>[0]
    await fundAndStake(chain, deployment, REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(chain, deployment, HONEST, 200n * OPEN, 100n * OPEN)
    await fundAndStake(chain, deployment, FORGER, 200n * OPEN, 100n * OPEN)
    // verifier minimum, juror pool and a challenge's stake at risk
    await fundAndStake(chain, deployment, VERIFIER, 400n * OPEN, 300n * OPEN)
    await fundAndStake(chain, deployment, JUROR, 400n * OPEN, 300n * OPEN)
    modelPath = (await writeFixture(dir)).modelPath
    // contributor 1 supplies random labels
    fixture = await writeDatanetFixture(dir, {
      contributors: CONTRIBUTORS.map((i) => chain.accounts[i]!.address),
      noisy: [1],
    })
    nodes = await startNodes(chain, deployment, dir, [
      { name: 'juror', accountIndex: JUROR, roles: ['verifier'] },
      { name: 'verifier', accountIndex: VERIFIER, roles: ['verifier'] },
      { name: 'honest', accountIndex: HONEST, roles: ['provider'] },
      { name: 'requester', accountIndex: REQUESTER, roles: ['requester'] },
    ])
  }, 120_000)

  afterAll(async () => {
    for (const n of nodes ?? []) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    await removeDir(dir)
  })

  it('commits the attribution as the leaf after the checkpoints; the verifier replays it; the signal contributor outweighs the noise one', async () => {
    const submitted = await submit()
    // once both verifiers passed it, the rest of the challenge window is skipped; a loaded machine
    // may miss the first bidding window, and the requester offers the same work again
    const { id: jobId } = await finalizedOncePassed(
      net.chain,
      node('requester'),
      [node('verifier'), node('juror')],
      submitted.jobId,
      { windowSeconds: CHALLENGE_WINDOW, followReoffers: true },
    )
    const results = await waitFor('the attribution result at the requester', async () => {
      const record = await node('requester').daemon.state.getJob(jobId)
      return (
        record?.detail as
          | { results?: { verified: boolean; leafCount: number; attributionHash?: string } }
          | undefined
      )?.results
    })
    // 120 rows / 16 = 8 steps x 3 epochs, a checkpoint every 8: 0, 8, 16, 24, then attribution
    expect(results).toMatchObject({ verified: true, leafCount: 5 })
    const files = await requester().jobResults!(jobId)
    expect(files?.files.map((f) => f.name)).toEqual([
      'model.onnx',
      'training-manifest.json',
      'attribution.json',
    ])
    const stream = await requester().openJobResult!(jobId, 'attribution.json')
    const chunks: Buffer[] = []
    for await (const chunk of stream!) chunks.push(Buffer.from(chunk as Uint8Array))
    const result = JSON.parse(Buffer.concat(chunks).toString('utf8')) as attribution.AttributionResult
    const [signal, noise, signal2] = result.weights.map((w) => w.weight) as [number, number, number]
    expect(signal + noise + signal2).toBe(10_000)
    expect(noise).toBeLessThan(signal)
    expect(noise).toBeLessThan(signal2)
    expect(result.scores[1]!).toBeLessThan(result.scores[0]!)
    expect(result.weightsRoot).toBe(attributionWeightsTree(result.weights).root)
    // the committed root's last leaf is this result
    const onChain = await getJob(client, { jobMarket, jobId: jobId as `0x${string}` })
    expect(onChain.leafCount).toBe(5)
    const manifest = JSON.parse(await readFile(fixture.manifestPath, 'utf8'))
    expect(result.weights.map((w) => w.address)).toEqual(
      manifest.contributors.map((c: { address: string }) => c.address),
    )

    const verified = await jobIn(node('verifier'), jobId, ['finalized'])
    const report = (verified.detail as { report: VerificationReport }).report
    expect(report.passed).toBe(true)
    expect(report.leafCount).toBe(5)
    // five leaves at a 0.99 target: every one is checked, the attribution leaf included
    expect(report.checkedIndices).toContain(4)
  }, 300_000)

  it('a forged attribution (weights handed to the wrong contributors) is challenged on its leaf and slashed', async () => {
    // the honest provider is away, so the forger is the only bidder
    await node('honest').daemon.stop()
    nodes.push(
      ...(await startNodes(
        net.chain,
        net.deployment,
        dir,
        [
          {
            name: 'forger',
            accountIndex: FORGER,
            roles: ['provider'],
            faults: createCheatingFaultPlan({ fraction: 0, forgeAttribution: true }),
          },
        ],
        nodes,
      )),
    )
    const { jobId } = await submit()
    const awarded = await jobIn(node('requester'), jobId, ['awarded', 'committed', 'challenged', 'slashed'])
    expect(awarded.provider).toBe(node('forger').address)
    await jobIn(node('requester'), jobId, ['slashed'])
    const checked = await jobIn(node('verifier'), jobId, ['slashed'])
    const report = (checked.detail as { report: VerificationReport }).report
    expect(report.passed).toBe(false)
    // only the attribution leaf is wrong: the checkpoints are honest
    expect(report.mismatches.map((m) => [m.index, m.reason])).toEqual([[4, 'different-result']])
    // the jury (the verifier that did not challenge) re-executed leaf 4 and voted guilty
    const conviction = await juryConviction(net.chain, net.deployment, jobId as Hex)
    expect(conviction.leafIndex).toBe(4)
    expect(conviction.jurors.map((j) => j.vote)).toEqual([1])
  }, 300_000)

  it('refuses attribution jobs whose datanet does not fit: typed errors, nothing recorded', async () => {
    const requesterNode = node('requester')
    const before = (await requesterNode.daemon.state.listJobs({ role: 'requester' })).length
    // an undefined field removes it (the submit takes its params as JSON-like input)
    const code = (params: Record<string, string | undefined>) =>
      requester()
        .submitJob({
          modelPath,
          inputsPath: fixture.inputsPath,
          trainingSpecPath: fixture.trainingSpecPath,
          datanetManifestPath: fixture.manifestPath,
          kind: 'training',
          verification: 'replay',
          ...params,
        } as Parameters<RequesterRole['submitJob']>[0])
        .then(
          () => 'submitted',
          (e: { code?: string }) => e.code,
        )
    const spec = JSON.parse(await readFile(fixture.trainingSpecPath, 'utf8'))
    const manifest = JSON.parse(await readFile(fixture.manifestPath, 'utf8'))
    const write = async (name: string, value: unknown) => {
      const path = join(dir, name)
      await writeFile(path, JSON.stringify(value))
      return path
    }
    // no manifest for a spec that names attribution
    expect(await code({ datanetManifestPath: undefined })).toBe('ROLE_INVALID_PARAMS')
    // a manifest other than the one the spec names
    expect(await code({ datanetManifestPath: await write('other.json', { ...manifest, rows: 119 }) })).toBe(
      'ROLE_INPUT_MISMATCH',
    )
    // a manifest of another dataset file (its hash filled in by the requester)
    const { manifest: _m, ...attribution } = spec.attribution
    const unpinned = await write('unpinned.json', { ...spec, attribution })
    expect(
      await code({
        trainingSpecPath: unpinned,
        datanetManifestPath: await write('elsewhere.json', {
          ...manifest,
          datasetId: `0x${'ab'.repeat(32)}`,
        }),
      }),
    ).toBe('ROLE_INPUT_MISMATCH')
    // validation tensors the dataset does not hold
    const noValidation = await write('no-validation.json', {
      ...spec,
      attribution: { ...spec.attribution, validation: { features: 'x_test', targets: 'y_test' } },
    })
    expect(await code({ trainingSpecPath: noValidation })).toBe('ROLE_INPUT_MISMATCH')
    // the spec parser: validation naming the training tensors
    const same = await write('same.json', {
      ...spec,
      attribution: { ...spec.attribution, validation: { features: 'x', targets: 'y' } },
    })
    expect(await code({ trainingSpecPath: same })).toBe('ROLE_INVALID_PARAMS')
    expect((await requesterNode.daemon.state.listJobs({ role: 'requester' })).length).toBe(before)
  }, 60_000)
})
