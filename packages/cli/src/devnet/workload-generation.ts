/**
 * The devnet workload's generate and sequence jobs, generated at start like the rest:
 * - generate jobs on a small GPT-style decoder from @ocn/prover's builder (the export layout:
 *   input_ids, attention_mask, position_ids and a KV cache in; logits and present.* out), a
 *   few prompts decoded greedily. The first goes out while the cheater is still a stranger, so
 *   the cheater wins it and forges tokens (faults.ts, tamperGeneration); the other is an
 *   honest provider's and finalizes.
 * - a stateful sequence job on the VAD-like fixture: audio [chunks, streams, samples], a
 *   recurrent state [2, streams, width] whose batch axis is 1 (starting as zeros, as in the
 *   e2e sequence test), and a scalar int64 sample rate broadcast to every chunk.
 */

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { GenerateRequest, HostTensor } from '@ocn/node'
import { writeTensorFile } from '@ocn/node'
import { buildGptModel, buildStatefulVadModel, encodeOnnxModel, statefulVadNames } from '@ocn/prover'
import type { WorkloadJob } from './workload-job.js'

/** Small enough to decode in well under a second per job on one thread. */
export const WORKLOAD_GPT = { vocab: 61, dModel: 32, heads: 4, layers: 2, maxPositions: 64 }
export const WORKLOAD_PROMPTS = 2
export const WORKLOAD_PROMPT_TOKENS = 4
/** 2 prompts × 8 positions: 16 leaves; the cheater forges its fraction of them */
export const WORKLOAD_NEW_TOKENS = 8

/** The VAD fixture's sizes (buildStatefulVadModel's defaults) and the job's stream layout. */
const VAD_SAMPLES = 32
export const WORKLOAD_SEQUENCE_CHUNKS = 4
export const WORKLOAD_SEQUENCE_STREAMS = 2

function int64Tensor(dims: number[], values: readonly number[]): HostTensor {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)))
  return { dtype: 'int64', dims, data: new Uint8Array(data.buffer) }
}

function float32Tensor(dims: number[], values: Float32Array): HostTensor {
  return { dtype: 'float32', dims, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }
}

/**
 * The GPT fixture and `count` generate jobs, each with its own prompts. Tagged `opening` on
 * the first: it goes out right after the first job was committed (devnet.ts, submitWorkload).
 */
export async function writeGenerateJobs(
  dir: string,
  random: () => number,
  seed: number,
  count: number,
): Promise<WorkloadJob[]> {
  const modelPath = join(dir, 'gpt.onnx')
  await writeFile(modelPath, encodeOnnxModel(buildGptModel({ ...WORKLOAD_GPT, seed })))
  const generate: GenerateRequest = { maxNewTokens: WORKLOAD_NEW_TOKENS }
  const jobs: WorkloadJob[] = []
  for (let i = 0; i < count; i++) {
    const inputsPath = join(dir, `prompts-${i + 1}.safetensors`)
    const ids = Array.from({ length: WORKLOAD_PROMPTS * WORKLOAD_PROMPT_TOKENS }, () =>
      Math.floor(random() * WORKLOAD_GPT.vocab),
    )
    await writeTensorFile(inputsPath, {
      input_ids: int64Tensor([WORKLOAD_PROMPTS, WORKLOAD_PROMPT_TOKENS], ids),
    })
    jobs.push({
      name: `generate-${i + 1}`,
      kind: 'inference',
      modelPath,
      inputsPath,
      generate,
      ...(i === 0 ? { opening: true } : {}),
    })
  }
  return jobs
}

/**
 * The stateful VAD fixture and its sequence job. The axes are declared as a requester would
 * (they agree with what the model's metadata gives): state's batch on axis 1, sr broadcast.
 */
export async function writeSequenceJob(
  dir: string,
  random: () => number,
  seed: number,
): Promise<WorkloadJob> {
  const n = statefulVadNames
  const modelPath = join(dir, 'vad.onnx')
  await writeFile(modelPath, encodeOnnxModel(buildStatefulVadModel({ seed })))
  const streams = WORKLOAD_SEQUENCE_STREAMS
  const audio = Float32Array.from(
    { length: WORKLOAD_SEQUENCE_CHUNKS * streams * VAD_SAMPLES },
    () => random() - 0.5,
  )
  const inputsPath = join(dir, 'audio.safetensors')
  await writeTensorFile(inputsPath, {
    [n.audio]: float32Tensor([WORKLOAD_SEQUENCE_CHUNKS, streams, VAD_SAMPLES], audio),
    [n.sampleRate]: int64Tensor([], [16000]),
  })
  return {
    name: 'sequence-1',
    kind: 'inference',
    modelPath,
    inputsPath,
    state: [{ output: n.nextState, input: n.state }],
    inputAxes: { [n.state]: 1, [n.sampleRate]: 'broadcast' },
  }
}
