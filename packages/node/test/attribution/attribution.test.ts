import {
  accessManagerAbi,
  accessManagerBytecode,
  approveToken,
  claimAttribution,
  type DevChain,
  deployAttributionPool,
  depositAttributionFees,
  getTokenBalance,
  openTokenAbi,
  openTokenBytecode,
  type ProtocolWalletClient,
  setAttributionWeights,
  settleAttributionRound,
  startDevChain,
} from '@ocn/contracts-client'
import {
  ATTRIBUTION_WEIGHT_TOTAL,
  attributionWeightsTree,
  contentHashOf,
  type DatanetManifest,
  ProtocolError,
  parseDatanetManifest,
} from '@ocn/protocol'
import { type Address, createWalletClient, type Hex, http, keccak256, parseEther, stringToHex } from 'viem'
import { deployContract, waitForTransactionReceipt } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AttributionError,
  type AttributionRequest,
  type AttributionResult,
  attributionClaim,
  attributionResultHash,
  createAttributor,
} from '../../src/attribution/index.js'
import {
  encodeSafetensors,
  gatherRows,
  type NamedTensors,
  type TrainingResult,
} from '../../src/executor/index.js'
import { classifierSpec, f32, lcg, testExecutor } from '../executor/helpers.js'

/** Attribution runs from compiled JavaScript in a child process, like executor workers. */
const attributor = createAttributor({
  workerUrl: new URL('../../dist/attribution/worker.js', import.meta.url),
})
const executor = testExecutor()

const PER_CONTRIBUTOR = 150
const centers = [
  [2, 0],
  [-1, 1.8],
  [-1, -1.8],
]

/** Blob samples; `noiseFraction` of the labels replaced by uniformly random classes. */
function samples(n: number, seed: number, noiseFraction: number): { x: number[]; y: bigint[] } {
  const r = lcg(seed)
  const x: number[] = []
  const y: bigint[] = []
  for (let i = 0; i < n; i++) {
    const c = i % 3
    x.push(centers[c]![0]! + r() * 1.6, centers[c]![1]! + r() * 1.6)
    const noisy = r() + 0.5 < noiseFraction
    y.push(BigInt(noisy ? Math.floor((r() + 0.5) * 3) % 3 : c))
  }
  return { x, y }
}

function tensors(parts: { x: number[]; y: bigint[] }[]): NamedTensors {
  const x = parts.flatMap((p) => p.x)
  const y = parts.flatMap((p) => p.y)
  return {
    x: f32([y.length, 2], x),
    y: { dtype: 'int64', dims: [y.length], data: new Uint8Array(BigInt64Array.from(y).buffer) },
  }
}

// contributor 0: clean signal; 1: pure label noise; 2: half the labels noisy
const parts = [
  samples(PER_CONTRIBUTOR, 11, 0),
  samples(PER_CONTRIBUTOR, 12, 1),
  samples(PER_CONTRIBUTOR, 13, 0.5),
]
const dataset = tensors(parts)
const validation = tensors([samples(120, 99, 0)])
const spec = classifierSpec({ epochs: 4, seed: 'datanet-attribution-1' })

let chain: DevChain
let wallets: ProtocolWalletClient[]
let manifest: DatanetManifest
let training: TrainingResult
let request: AttributionRequest
let result: AttributionResult

beforeAll(async () => {
  chain = await startDevChain()
  wallets = chain.accounts.map((account) =>
    createWalletClient({ account, chain: chain.chain, transport: http(chain.rpcUrl), pollingInterval: 50 }),
  )
  manifest = parseDatanetManifest({
    version: 1,
    datasetId: contentHashOf(encodeSafetensors(dataset)),
    rows: 3 * PER_CONTRIBUTOR,
    contributors: [0, 1, 2].map((i) => {
      const rows = Array.from({ length: PER_CONTRIBUTOR }, (_, k) => i * PER_CONTRIBUTOR + k)
      const own = { x: gatherRows(dataset.x!, rows), y: gatherRows(dataset.y!, rows) }
      return {
        address: wallets[4 + i]!.account.address,
        dataHash: contentHashOf(encodeSafetensors(own)),
        ranges: [{ start: i * PER_CONTRIBUTOR, end: (i + 1) * PER_CONTRIBUTOR }],
      }
    }),
  })
  await executor.start()
  training = await executor.runTraining({ spec, dataset })
  request = {
    spec,
    method: { method: 'tracin-cp-v1' },
    manifest,
    dataset,
    validation,
    checkpoints: training.checkpoints,
    checkpointHashes: training.checkpointHashes,
  }
  result = await attributor.compute(request)
}, 300_000)

afterAll(async () => {
  await executor.stop()
  await chain?.stop()
})

describe('Proof of Attribution (TracIn over checkpoints)', () => {
  it('credits the signal contributor over the noise contributor, weights summing to 10000', () => {
    expect(result.checkpointHashes).toEqual(training.checkpointHashes)
    expect(result.weights.map((w) => w.address)).toEqual(manifest.contributors.map((c) => c.address))
    const [signal, noise, partial] = result.weights.map((w) => w.weight) as [number, number, number]
    expect(signal + noise + partial).toBe(ATTRIBUTION_WEIGHT_TOTAL)
    expect(result.scores[0]!).toBeGreaterThan(result.scores[1]!)
    // random labels work against the validation set: negative influence, clamped to weight 0
    expect(result.scores[1]!).toBeLessThan(0)
    expect(noise).toBe(0)
    expect(noise).toBeLessThan(signal)
    expect(partial).toBeLessThan(signal)
    expect(partial).toBeGreaterThanOrEqual(noise)
    // the committed parts are consistent with each other
    expect(result.weightsRoot).toBe(attributionWeightsTree(result.weights).root)
    const { resultHash, ...body } = result
    expect(resultHash).toBe(attributionResultHash(body))
  })

  it('replays bit-exactly in a separate process, and a tampered result fails verification', async () => {
    const verdict = await attributor.verify(result, request)
    expect(verdict.valid).toBe(true)
    expect(verdict.recomputed).toEqual(result)
    // float64 bits of the scores, not just their printed values
    expect(verdict.recomputed.scores.map((s) => Object.is(s, s) && s)).toEqual(result.scores)

    const swapped = result.weights.map((w, i, all) => ({ ...w, weight: all[(i + 1) % all.length]!.weight }))
    const forged = { ...result, weights: swapped, weightsRoot: attributionWeightsTree(swapped).root }
    forged.resultHash = attributionResultHash(forged)
    expect((await attributor.verify(forged, request)).valid).toBe(false)
  })

  it('knn-shapley-v1 over the same run: noise ranks last, replays in a process, forgery fails', async () => {
    const knn = { ...request, method: { method: 'knn-shapley-v1' as const } }
    const shapley = await attributor.compute(knn)
    expect(shapley.method).toBe('knn-shapley-v1')
    expect(shapley.checkpointHashes).toEqual(training.checkpointHashes)
    expect(shapley.scores[1]!).toBeLessThan(Math.min(shapley.scores[0]!, shapley.scores[2]!))
    expect(shapley.resultHash).not.toBe(result.resultHash)
    expect((await attributor.verify(shapley, knn)).valid).toBe(true)
    const weights = shapley.weights.map((w, i) => ({ ...w, weight: i === 1 ? ATTRIBUTION_WEIGHT_TOTAL : 0 }))
    const forged = { ...shapley, weights, weightsRoot: attributionWeightsTree(weights).root }
    forged.resultHash = attributionResultHash(forged)
    expect((await attributor.verify(forged, knn)).valid).toBe(false)
  })

  it('refuses a checkpoint that does not match its committed hash, and bad manifests', async () => {
    const hashes = [...training.checkpointHashes]
    hashes[2] = keccak256(stringToHex('not this checkpoint'))
    const err = await attributor.compute({ ...request, checkpointHashes: hashes }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AttributionError)
    expect((err as AttributionError).code).toBe('ATTRIBUTION_CHECKPOINT_MISMATCH')

    const tooFew = await attributor
      .compute({ ...request, checkpoints: training.checkpoints.slice(1) })
      .catch((e: unknown) => e)
    expect((tooFew as AttributionError).code).toBe('ATTRIBUTION_INPUT_INVALID')

    const overlapping = structuredClone(manifest) as DatanetManifest
    overlapping.contributors[1]!.ranges = [{ start: 100, end: 300 }]
    expect(() => parseDatanetManifest(overlapping)).toThrow(ProtocolError)
    const duplicate = { ...manifest, contributors: [manifest.contributors[0]!, manifest.contributors[0]!] }
    expect(() => parseDatanetManifest(duplicate)).toThrow(/appears twice/)
  })

  it('stops on abort and on timeout, killing the attribution process', async () => {
    const controller = new AbortController()
    const running = attributor.compute(request, { signal: controller.signal })
    controller.abort()
    await expect(running).rejects.toMatchObject({ code: 'ATTRIBUTION_ABORTED' })
    await expect(attributor.compute(request, { timeoutMs: 1 })).rejects.toMatchObject({
      code: 'ATTRIBUTION_TIMEOUT',
    })
    await expect(attributor.compute(request, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ATTRIBUTION_ABORTED',
    })
  })

  it('pays the committed weights out of an AttributionPool on anvil: noise earns less, sum exact', async () => {
    const [admin, payer] = [wallets[0]!, wallets[1]!]
    const deploy = async (abi: unknown, bytecode: Hex, args: unknown[]): Promise<Address> => {
      const hash = await deployContract(admin, {
        abi: abi as never,
        bytecode,
        args: args as never,
        chain: chain.chain,
      })
      return (await waitForTransactionReceipt(admin, { hash })).contractAddress!
    }
    const token = await deploy(openTokenAbi, openTokenBytecode, [payer.account.address, parseEther('1000')])
    const manager = await deploy(accessManagerAbi, accessManagerBytecode, [admin.account.address])
    const { attributionPool } = await deployAttributionPool(admin, { accessManager: manager, token })
    const modelId = contentHashOf(training.model)
    // governance (here the AccessManager admin) commits the result's root
    await setAttributionWeights(admin, {
      attributionPool,
      modelId,
      weightsRoot: result.weightsRoot,
      resultHash: result.resultHash,
    })
    const fees = parseEther('3.333333333333333333')
    await approveToken(payer, { token, spender: attributionPool, amount: fees })
    await depositAttributionFees(payer, { attributionPool, modelId, amount: fees })
    const { round } = await settleAttributionRound(payer, { attributionPool, modelId })
    const paid: bigint[] = []
    for (let i = 0; i < 3; i++) {
      const claim = attributionClaim(result, i)
      paid.push((await claimAttribution(wallets[4 + i]!, { attributionPool, modelId, round, ...claim })).paid)
      expect(await getTokenBalance(admin, { token, account: claim.account })).toBe(paid[i])
    }
    expect(paid.reduce((a, b) => a + b, 0n)).toBe(fees)
    expect(paid[1]!).toBeLessThan(paid[0]!)
    expect(await getTokenBalance(admin, { token, account: attributionPool })).toBe(0n)
  })
})
