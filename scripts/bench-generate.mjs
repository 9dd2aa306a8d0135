#!/usr/bin/env node
// Generation: the OCN executor against a plain onnxruntime-node KV-cache loop, same model,
// same prompt, same threads, same run; and what verifying the result costs.
//
// Usage: npm run bench:generate [-- --json] [-- --new-tokens N] [-- --prompt-tokens P] [-- --rounds R]
//        [-- --isolation thread|process]   (the executor's worker isolation, default process)
//        [-- --vocab V --width D --heads H --layers L]   (the fixture's shape, default 512/128/4/4)
//
// Model: the project's GPT fixture (buildGptModel), seeded weights. Decoding is greedy on
// both sides, so both produce the same tokens (checked).
// (a) OCN: executor.runGeneration — the model checked, one worker with a single-threaded
//     session, prefill plus one cached step per token, each token streamed to the main
//     thread, each position's logits hashed into its leaf, the Merkle tree built.
// (b) raw: one onnxruntime-node session in this process, intraOpNumThreads 1, the same
//     prefill and cached steps, argmax, nothing else.
// (v) verification: a fresh generationReplay, told the sample up front as the verifier role
//     tells it, checks the leaves a verifier samples at the default detection target
//     (verifier.targetDetectionProbability 0.99, at most maxSamplesPerJob 64): one prefill
//     pass over the prompt and the generated tokens up to the last sampled position, fetching
//     only the logits, judging only the sampled rows (and hashing a row only where it rejects).
// Rounds run a, b, v, a, b, v, ... so the three see the same load. tokensPerSec and
// rawTokensPerSec are the median rounds. ratio = the median over rounds of raw / OCN in the
// same round, verifyCostRatio = the median over rounds of verify / OCN in the same round:
// this VM's speed drifts by up to 2x within a run (raw rounds of 90 to 173 ms in one run), and
// a ratio of medians taken from different rounds would measure that drift, not OCN. The ratios
// of the medians are logged too.
//
// With --json the last stdout line is one JSON object:
//   { model, promptTokens, newTokens, tokensPerSec, rawTokensPerSec, ratio, verifyCostRatio }
import {
  buildGptModel,
  encodeOnnxModel,
  gptCacheNames,
  sampleIndices,
  samplesForDetection,
} from '@ocn/prover'
import * as ort from 'onnxruntime-node'
import {
  cpuReplayProfile,
  createExecutor,
  defaultNodeConfig,
  ortVersion,
  parseGenerateJobSpec,
} from '../packages/node/dist/index.js'

const args = process.argv.slice(2)
const json = args.includes('--json')
const arg = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const log = (...a) => (json ? console.error(...a) : console.log(...a))

// The default shape is the tiny fixture the figures in docs/execution.md were first taken on;
// --vocab, --width, --heads and --layers measure other shapes (docs/execution.md, "Model size").
const CONFIG = {
  vocab: arg('--vocab', 512),
  dModel: arg('--width', 128),
  heads: arg('--heads', 4),
  layers: arg('--layers', 4),
  maxPositions: 1024,
  seed: 1,
}
for (const [key, value] of Object.entries(CONFIG)) {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`bench:generate: ${key} must be a positive integer, got ${value}`)
}
if (CONFIG.dModel % CONFIG.heads !== 0)
  throw new Error(`bench:generate: --width ${CONFIG.dModel} must be a multiple of --heads ${CONFIG.heads}`)
const MODEL = `gpt-fixture-v${CONFIG.vocab}-d${CONFIG.dModel}-h${CONFIG.heads}-l${CONFIG.layers}`
const PROMPT_TOKENS = arg('--prompt-tokens', 32)
const NEW_TOKENS = arg('--new-tokens', 256)
const ROUNDS = arg('--rounds', 9)
const isolationAt = args.indexOf('--isolation')
const ISOLATION = isolationAt >= 0 ? args[isolationAt + 1] : 'process'

const model = encodeOnnxModel(buildGptModel(CONFIG))
const prompt = Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 37 + 11) % CONFIG.vocab)
const inputIds = {
  dtype: 'int64',
  dims: [1, PROMPT_TOKENS],
  data: new Uint8Array(BigInt64Array.from(prompt.map(BigInt)).buffer),
}
const spec = parseGenerateJobSpec({
  kind: 'generate',
  profile: cpuReplayProfile(ortVersion(), 1),
  maxNewTokens: NEW_TOKENS,
  seed: 'bench',
  sampling: { temperature: 0 },
})
const job = { spec, model, inputs: { input_ids: inputIds } }

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function rawLoop(session) {
  const ints = (v) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length])
  const headDim = CONFIG.dModel / CONFIG.heads
  const tokens = []
  let past
  let ids = prompt
  let length = 0
  for (let s = 0; s < NEW_TOKENS; s++) {
    const feeds = {
      input_ids: ints(ids),
      attention_mask: ints(new Array(length + ids.length).fill(1)),
      position_ids: ints(ids.map((_, i) => length + i)),
    }
    for (let l = 0; l < CONFIG.layers; l++) {
      const n = gptCacheNames(l)
      const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, CONFIG.heads, 0, headDim])
      feeds[n.pastKey] = past?.[n.presentKey] ?? empty()
      feeds[n.pastValue] = past?.[n.presentValue] ?? empty()
    }
    past = await session.run(feeds)
    const all = past.logits.data
    const row = all.subarray((ids.length - 1) * CONFIG.vocab, ids.length * CONFIG.vocab)
    let best = 0
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i
    tokens.push(best)
    length += ids.length
    ids = [best]
  }
  return tokens
}

/** A verifier's check of the sampled leaves of one result (the sample drawn per round). */
async function verify(executor, result, samples, round) {
  const leaves = result.dataHashes.length
  const seed = `0x${(round + 1).toString(16).padStart(64, '0')}`
  const indices = sampleIndices(seed, 'bench', leaves, samples)
  const t = performance.now()
  const replay = executor.generationReplay(
    job,
    { claimedSequences: async () => result.sequences },
    result.root,
    { sampled: indices },
  )
  for (const i of indices) {
    const { match } = await replay.matchesMicroBatch(i, result.dataHashes[i])
    if (!match) throw new Error(`honest leaf ${i} failed verification`)
  }
  return performance.now() - t
}

async function main() {
  const executor = createExecutor({
    workerUrl: new URL('../packages/node/dist/executor/worker.js', import.meta.url),
    options: { poolSize: 1, isolation: ISOLATION },
  })
  await executor.start()
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  })
  // warm-up: the worker's session, the raw session
  const warm = await executor.runGeneration(job)
  const rawTokens = await rawLoop(session)
  if (warm.sequences[0].tokens.join() !== rawTokens.join())
    throw new Error('OCN and raw decoded different tokens')
  const verifier = defaultNodeConfig({}).verifier
  const leaves = warm.dataHashes.length
  const samples = Math.min(
    leaves,
    verifier.maxSamplesPerJob,
    samplesForDetection(leaves, 1 / leaves, verifier.targetDetectionProbability),
  )
  const ocnTimes = []
  const rawTimes = []
  const verifyTimes = []
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now()
    const result = await executor.runGeneration(job)
    ocnTimes.push(performance.now() - t)
    t = performance.now()
    await rawLoop(session)
    rawTimes.push(performance.now() - t)
    verifyTimes.push(await verify(executor, result, samples, r))
    log(
      `round ${r}: ocn ${ocnTimes.at(-1).toFixed(0)} ms, raw ${rawTimes.at(-1).toFixed(0)} ms, verify ${verifyTimes.at(-1).toFixed(0)} ms`,
    )
  }
  await session.release()
  await executor.stop()
  const ocn = median(ocnTimes)
  const raw = median(rawTimes)
  const paired = (xs) => median(xs.map((x, r) => x / ocnTimes[r]))
  log(`verify: ${samples} of ${leaves} leaves, median ${median(verifyTimes).toFixed(0)} ms`)
  log(
    `ratios of the medians: raw/ocn ${(raw / ocn).toFixed(3)}, verify/ocn ${(median(verifyTimes) / ocn).toFixed(3)}`,
  )
  const out = {
    model: MODEL,
    promptTokens: PROMPT_TOKENS,
    newTokens: NEW_TOKENS,
    tokensPerSec: Number(((NEW_TOKENS * 1000) / ocn).toFixed(1)),
    rawTokensPerSec: Number(((NEW_TOKENS * 1000) / raw).toFixed(1)),
    ratio: Number(paired(rawTimes).toFixed(3)),
    verifyCostRatio: Number(paired(verifyTimes).toFixed(3)),
  }
  if (json) console.log(JSON.stringify(out))
  else console.log(out)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
