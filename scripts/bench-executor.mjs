#!/usr/bin/env node
// The OCN executor against plain onnxruntime-node, same model, same inputs, same run.
//
// Usage: npm run bench:executor [-- --json] [-- --samples N] [-- --rounds R] [-- --isolation thread|process]
//
// (a) OCN: runInferenceFiles — read model and inputs from files, validate, split into
//     micro-batches, run them on a pool of single-threaded sessions (one worker per core),
//     hash every micro-batch's outputs, build the Merkle tree, write the outputs file.
// (b) raw: one onnxruntime-node session in this process with intraOpNumThreads = the pool
//     size (the same total threads), the same micro-batches run one after another, reading
//     and writing the same files, no hashing.
// Rounds alternate a, b, a, b, ...; each side reports its median round.
// Training: steps/s of a stated MLP trained with Adam in one executor worker.
//
// With --json the last stdout line is one JSON object:
//   { model, ocnSamplesPerSec, rawSamplesPerSec, ratio, trainingStepsPerSec, ... }
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover'
import * as ort from 'onnxruntime-node'
import {
  cpuReplayProfile,
  createExecutor,
  decodeSafetensors,
  encodeSafetensors,
  ortVersion,
  parseJobSpec,
  runInferenceFiles,
} from '../packages/node/dist/executor/index.js'

const args = process.argv.slice(2)
const json = args.includes('--json')
const arg = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const log = (...a) => {
  if (!json) console.log(...a)
  else console.error(...a)
}

const SIZES = [256, 1024, 1024, 10]
const MODEL = `mlp-${SIZES.join('x')}-relu`
const SAMPLES = arg('--samples', 16384)
const MICRO_BATCH = 256
const ROUNDS = arg('--rounds', 5)
const THREADS = availableParallelism()

/** A small deterministic generator for benchmark data (not the protocol PRNG). */
function lcg(seed) {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

function mlp(sizes, activation, seed) {
  const r = lcg(seed)
  return {
    layers: sizes.slice(1).map((out, i) => ({
      inFeatures: sizes[i],
      outFeatures: out,
      weight: Float32Array.from({ length: sizes[i] * out }, () => r() * 0.1),
      bias: Float32Array.from({ length: out }, () => r() * 0.1),
      activation: i === sizes.length - 2 ? 'none' : activation,
    })),
    softmaxOutput: false,
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const dir = await mkdtemp(join(tmpdir(), 'ocn-bench-executor-'))
const ISOLATION = args.includes('--isolation') ? args[args.indexOf('--isolation') + 1] : undefined
const executor = createExecutor({
  options: { poolSize: THREADS, ...(ISOLATION ? { isolation: ISOLATION } : {}) },
})
try {
  const modelPath = join(dir, 'model.onnx')
  const inputsPath = join(dir, 'inputs.safetensors')
  const x = Float32Array.from({ length: SAMPLES * SIZES[0] }, lcg(1))
  await writeFile(modelPath, encodeOnnxModel(buildMlpModel(mlp(SIZES, 'relu', 7))))
  await writeFile(
    inputsPath,
    encodeSafetensors({
      input: { dtype: 'float32', dims: [SAMPLES, SIZES[0]], data: new Uint8Array(x.buffer) },
    }),
  )
  const spec = parseJobSpec({ kind: 'inference', profile: cpuReplayProfile(ortVersion(), MICRO_BATCH) })
  await executor.start()

  async function ocnRound() {
    const t0 = performance.now()
    const r = await runInferenceFiles(executor, {
      spec,
      modelPath,
      inputPaths: [inputsPath],
      outputPath: join(dir, 'ocn-out.safetensors'),
    })
    const ms = performance.now() - t0
    if (r.samples !== SAMPLES) throw new Error('sample count mismatch')
    return ms
  }

  const raw = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  })
  async function rawRound() {
    const t0 = performance.now()
    const input = decodeSafetensors(new Uint8Array(await readFile(inputsPath))).tensors.input
    const data = new Float32Array(input.data.slice().buffer)
    const parts = []
    for (let s = 0; s < SAMPLES; s += MICRO_BATCH) {
      const n = Math.min(MICRO_BATCH, SAMPLES - s)
      const feed = new ort.Tensor('float32', data.subarray(s * SIZES[0], (s + n) * SIZES[0]), [n, SIZES[0]])
      const out = await raw.run({ input: feed })
      parts.push(out.output.data)
    }
    const all = new Float32Array(SAMPLES * SIZES[SIZES.length - 1])
    let o = 0
    for (const p of parts) {
      all.set(p, o)
      o += p.length
    }
    await writeFile(
      join(dir, 'raw-out.safetensors'),
      encodeSafetensors({
        output: {
          dtype: 'float32',
          dims: [SAMPLES, SIZES[SIZES.length - 1]],
          data: new Uint8Array(all.buffer),
        },
      }),
    )
    return performance.now() - t0
  }

  // warm-up: sessions built, caches filled, JIT settled
  await ocnRound()
  await rawRound()
  const ocnMs = []
  const rawMs = []
  for (let i = 0; i < ROUNDS; i++) {
    ocnMs.push(await ocnRound())
    rawMs.push(await rawRound())
  }
  await raw.release()
  const ocnSamplesPerSec = SAMPLES / (median(ocnMs) / 1000)
  const rawSamplesPerSec = SAMPLES / (median(rawMs) / 1000)
  log(`model ${MODEL}, ${SAMPLES} samples, micro-batch ${MICRO_BATCH}, ${THREADS} threads, ${ROUNDS} rounds`)
  log(
    `  OCN executor (files in, leaves and outputs out): ${ocnSamplesPerSec.toFixed(0)} samples/s (median ${median(ocnMs).toFixed(1)} ms)`,
  )
  log(
    `  plain onnxruntime-node, ${THREADS} intra-op threads: ${rawSamplesPerSec.toFixed(0)} samples/s (median ${median(rawMs).toFixed(1)} ms)`,
  )
  log(`  ratio ${(ocnSamplesPerSec / rawSamplesPerSec).toFixed(3)}`)

  // training: a stated MLP, Adam, batch 64
  const TRAIN_SIZES = [64, 128, 128, 10]
  const TRAIN_ROWS = 8192
  const tr = lcg(3)
  const features = Float32Array.from({ length: TRAIN_ROWS * TRAIN_SIZES[0] }, tr)
  const labels = BigInt64Array.from({ length: TRAIN_ROWS }, (_, i) => BigInt(i % 10))
  const trainingSpec = parseJobSpec({
    kind: 'training',
    profile: cpuReplayProfile(ortVersion(), 64, 'feeds'),
    model: { architecture: { inputFeatures: 64, hiddenLayers: [128, 128], outputs: 10, activation: 'relu' } },
    loss: 'softmax-cross-entropy',
    optimizer: { type: 'adam', learningRate: 0.001 },
    batchSize: 64,
    epochs: 2,
    seed: 'bench',
    checkpointInterval: 32,
  })
  const dataset = {
    x: { dtype: 'float32', dims: [TRAIN_ROWS, 64], data: new Uint8Array(features.buffer) },
    y: { dtype: 'int64', dims: [TRAIN_ROWS], data: new Uint8Array(labels.buffer) },
  }
  const t0 = performance.now()
  const trained = await executor.runTraining({ spec: trainingSpec, dataset }, { keepCheckpoints: false })
  const trainingStepsPerSec = trained.lossCurve.length / ((performance.now() - t0) / 1000)
  const trainingModel = `mlp-${TRAIN_SIZES.join('x')}-relu adam batch 64`
  log(
    `training ${trainingModel}: ${trainingStepsPerSec.toFixed(1)} steps/s (${trained.lossCurve.length} steps, checkpoint every 32)`,
  )

  const result = {
    model: MODEL,
    ocnSamplesPerSec: Math.round(ocnSamplesPerSec),
    rawSamplesPerSec: Math.round(rawSamplesPerSec),
    ratio: Number((ocnSamplesPerSec / rawSamplesPerSec).toFixed(4)),
    trainingStepsPerSec: Number(trainingStepsPerSec.toFixed(2)),
    trainingModel,
    samples: SAMPLES,
    microBatchSize: MICRO_BATCH,
    threads: THREADS,
    ortVersion: ortVersion(),
  }
  console.log(JSON.stringify(result))
} finally {
  await executor.stop()
  await rm(dir, { recursive: true, force: true })
}
