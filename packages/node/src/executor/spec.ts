/**
 * Job specs: what a requester asks for and a verifier replays. JSON, validated here before
 * anything runs. The replay profile pins everything that changes output bits; the daemon
 * hashes the whole spec into the job's specHash.
 */
import { ExecutorError } from './errors.js'
import { type GenerateFields, parseGenerateFields } from './generate/spec.js'
import { type InputAxes, parseInputAxes } from './input-axes-spec.js'

/** The attribution methods a training spec can name (computed by src/attribution). */
export const attributionMethods = ['tracin-cp-v1', 'knn-shapley-v1'] as const
export type AttributionMethodName = (typeof attributionMethods)[number]

export const graphOptimizationLevels = ['disabled', 'basic', 'extended', 'all'] as const
export type GraphOptimizationLevel = (typeof graphOptimizationLevels)[number]
export const executionProviders = ['cpu', 'cuda', 'webgpu'] as const
export type ExecutionProviderName = (typeof executionProviders)[number]

export interface ReplayProfile {
  /** the onnxruntime version the results were produced with, e.g. "1.30.0" */
  ortVersion: string
  graphOptimizationLevel: GraphOptimizationLevel
  intraOpThreads: number
  interOpThreads: number
  /** samples per micro-batch (inference); must equal batchSize for training */
  microBatchSize: number
  executionProvider: ExecutionProviderName
  /**
   * how weights reach the session: 'initializers' (embedded in the model, inference) or
   * 'feeds' (fed as inputs every step, training)
   */
  weightsSupply: 'initializers' | 'feeds'
  /** CPU replays are bit-exact; GPU results are compared within a relative tolerance */
  comparison: 'bit-exact' | { tolerance: number }
}

export interface InferenceJobSpec {
  kind: 'inference'
  profile: ReplayProfile
  /** outputs to keep, default all of the model's outputs */
  outputs?: string[]
  /**
   * zk-mode jobs: the content hash of the inputs file. The offer's inputHash holds the input's
   * Poseidon commitment there, which no store can look up, so the spec names the file.
   */
  zkInput?: `0x${string}`
  /**
   * per input: its batch axis (micro-batches cut along it) or 'broadcast' (every micro-batch
   * gets it whole); inputs left out are inferred from the model (input-axes.ts)
   */
  inputAxes?: InputAxes
}

export type Activation = 'relu' | 'tanh' | 'gelu'
export type LossName = 'softmax-cross-entropy' | 'mse'

export type OptimizerSpec =
  | { type: 'sgd'; learningRate: number; momentum: number }
  | { type: 'adam'; learningRate: number; beta1: number; beta2: number; epsilon: number }

export type TrainingModelSpec =
  | {
      architecture: { inputFeatures: number; hiddenLayers: number[]; outputs: number; activation: Activation }
    }
  /** fine-tune the dense layers of the job's model (an ONNX MLP) */
  | { baseModel: true }
  /** train a generated head on a tensor of the job's model, the backbone, which stays frozen */
  | { baseModel: true; head: TrainingHeadSpec }
  /** train low-rank adapters on dense weights of the job's model (an ONNX MLP), which stays frozen */
  | { baseModel: true; lora: LoraSpec }

/** A head on a frozen backbone (docs/execution.md "Fine-tuning"). */
export interface TrainingHeadSpec {
  /** the backbone's tensor (any node output) the head reads, flattened to [N, F] */
  features: string
  hiddenLayers: number[]
  outputs: number
  activation: Activation
}

/** Rank-r adapters: W' = W + (alpha / rank) A B with A [in, rank] and B [rank, out]. */
export interface LoraSpec {
  /** the adapted weights: initializer names of the base model's dense layers */
  targets: string[]
  rank: number
  alpha: number
}

/** The kind of network a training spec trains. */
export function trainingModelKind(model: TrainingModelSpec): 'architecture' | 'base' | 'head' | 'lora' {
  if ('head' in model) return 'head'
  if ('lora' in model) return 'lora'
  return 'baseModel' in model ? 'base' : 'architecture'
}

export interface TrainingJobSpec {
  kind: 'training'
  profile: ReplayProfile
  model: TrainingModelSpec
  loss: LossName
  optimizer: OptimizerSpec
  batchSize: number
  epochs: number
  /** seeds weight init and data order (UTF-8 bytes of the string) */
  seed: string
  /** a checkpoint every k optimizer steps */
  checkpointInterval: number
  /** tensor names in the dataset file: features [N, F] float32; targets int64 [N] (CE) or float32 [N, O] (MSE) */
  data?: { features?: string; targets?: string }
  /**
   * Proof of Attribution (docs/attribution.md): after training, each datanet contributor's
   * influence is computed with `method` and committed as one extra leaf after the checkpoints.
   */
  attribution?: TrainingAttributionSpec
}

export interface TrainingAttributionSpec {
  /** one of attributionMethods (attribution/method.ts) */
  method: AttributionMethodName
  /**
   * SHA-256 content hash of the datanet manifest JSON (an artifact like the model and the
   * dataset, fetched from the requester); its datasetId must be the job's dataset file hash
   */
  manifest: `0x${string}`
  /**
   * held-out validation tensors in the same dataset file, laid out like the training
   * features and targets; they are not trained on
   */
  validation: { features: string; targets: string }
}

/**
 * A stateful sequence job (sequence.ts): the model runs over an ordered sequence of chunks,
 * each state output feeding its paired state input at the next chunk, for one or many
 * independent streams (the model's batch axis). One leaf per chunk of each stream.
 */
export interface SequenceJobSpec {
  kind: 'sequence'
  /** microBatchSize must be 1: each stream runs on its own, one chunk per leaf */
  profile: ReplayProfile
  /** named pairs: output `output` of chunk c is input `input` of chunk c + 1 */
  state: { input: string; output: string }[]
  /** per input: its stream (batch) axis in the model's shape, or 'broadcast'; inferred when left out */
  inputAxes?: InputAxes
  /** outputs to keep besides the state outputs, default all */
  outputs?: string[]
}

/**
 * Text generation with a decoder in the export layout (generate/*, docs/execution.md). Its
 * offer is an inference-kind offer (kind 0) of prompts × maxNewTokens samples in micro-batches
 * of 1: one leaf per generated position (roles/generation.ts).
 */
export type GenerateJobSpec = { kind: 'generate'; profile: ReplayProfile } & GenerateFields

export type JobSpec = InferenceJobSpec | TrainingJobSpec | SequenceJobSpec | GenerateJobSpec

function fail(path: string, what: string): never {
  throw new ExecutorError('EXECUTOR_SPEC_INVALID', `job spec: ${path} ${what}`)
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object')
  return v as Record<string, unknown>
}

function onlyKeys(o: Record<string, unknown>, path: string, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${path}.${k}`, 'is not a known field')
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(path, `must be an integer in ${min}..${max}`)
  return v
}

function num(v: unknown, path: string, min: number, max: number, exclusiveMin = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v > max || (exclusiveMin ? v <= min : v < min)) {
    fail(path, `must be a number in ${exclusiveMin ? '(' : '['}${min}, ${max}]`)
  }
  return v
}

function oneOf<T extends string>(v: unknown, path: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) fail(path, `must be one of ${options.join(', ')}`)
  return v as T
}

export function parseReplayProfile(v: unknown, path = 'profile'): ReplayProfile {
  const o = obj(v, path)
  onlyKeys(o, path, [
    'ortVersion',
    'graphOptimizationLevel',
    'intraOpThreads',
    'interOpThreads',
    'microBatchSize',
    'executionProvider',
    'weightsSupply',
    'comparison',
  ])
  if (typeof o.ortVersion !== 'string' || !/^\d+\.\d+\.\d+$/.test(o.ortVersion))
    fail(`${path}.ortVersion`, 'must be x.y.z')
  let comparison: ReplayProfile['comparison']
  if (o.comparison === 'bit-exact') comparison = 'bit-exact'
  else {
    const c = obj(o.comparison, `${path}.comparison`)
    onlyKeys(c, `${path}.comparison`, ['tolerance'])
    comparison = { tolerance: num(c.tolerance, `${path}.comparison.tolerance`, 0, 1, true) }
  }
  const profile: ReplayProfile = {
    ortVersion: o.ortVersion,
    graphOptimizationLevel: oneOf(
      o.graphOptimizationLevel,
      `${path}.graphOptimizationLevel`,
      graphOptimizationLevels,
    ),
    intraOpThreads: int(o.intraOpThreads, `${path}.intraOpThreads`, 1, 256),
    interOpThreads: int(o.interOpThreads, `${path}.interOpThreads`, 1, 256),
    microBatchSize: int(o.microBatchSize, `${path}.microBatchSize`, 1, 1 << 20),
    executionProvider: oneOf(o.executionProvider, `${path}.executionProvider`, executionProviders),
    weightsSupply: oneOf(o.weightsSupply, `${path}.weightsSupply`, ['initializers', 'feeds'] as const),
    comparison,
  }
  return profile
}

/** Validates a parsed JSON value as a job spec; throws EXECUTOR_SPEC_INVALID naming the field. */
export function parseJobSpec(v: unknown): JobSpec {
  const o = obj(v, 'spec')
  const kind = oneOf(o.kind, 'spec.kind', ['inference', 'training', 'sequence', 'generate'] as const)
  if (kind === 'sequence') return parseSequenceSpec(o)
  if (kind === 'generate') return parseGenerateJobSpec(o)
  return kind === 'inference' ? parseInferenceSpec(o) : parseTrainingSpec(o)
}

/** Validates a parsed JSON value as a generate job spec; throws EXECUTOR_SPEC_INVALID naming the field. */
export function parseGenerateJobSpec(v: unknown): GenerateJobSpec {
  const o = obj(v, 'spec')
  if (o.kind !== 'generate') fail('spec.kind', "must be 'generate'")
  onlyKeys(o, 'spec', ['kind', 'profile', 'maxNewTokens', 'stopTokens', 'sampling', 'seed', 'tieTolerance'])
  return { kind: 'generate', profile: parseReplayProfile(o.profile), ...parseGenerateFields(o) }
}

function parseInferenceSpec(o: Record<string, unknown>): InferenceJobSpec {
  onlyKeys(o, 'spec', ['kind', 'profile', 'outputs', 'zkInput', 'inputAxes'])
  const spec: InferenceJobSpec = { kind: 'inference', profile: parseReplayProfile(o.profile) }
  if (o.inputAxes !== undefined) spec.inputAxes = parseInputAxes(o.inputAxes)
  if (o.zkInput !== undefined) {
    if (typeof o.zkInput !== 'string' || !/^0x[0-9a-f]{64}$/.test(o.zkInput)) {
      fail('spec.zkInput', 'must be a lowercase 0x-prefixed 32-byte content hash')
    }
    spec.zkInput = o.zkInput as `0x${string}`
  }
  if (o.outputs !== undefined) {
    if (
      !Array.isArray(o.outputs) ||
      !o.outputs.every((x) => typeof x === 'string') ||
      o.outputs.length === 0
    ) {
      fail('spec.outputs', 'must be a non-empty list of output names')
    }
    spec.outputs = o.outputs as string[]
  }
  return spec
}

function parseTrainingSpec(o: Record<string, unknown>): TrainingJobSpec {
  onlyKeys(o, 'spec', [
    'kind',
    'profile',
    'model',
    'loss',
    'optimizer',
    'batchSize',
    'epochs',
    'seed',
    'checkpointInterval',
    'data',
    'attribution',
  ])
  const profile = parseReplayProfile(o.profile)
  const model = parseTrainingModel(o.model)
  const optimizer = parseOptimizer(o.optimizer)
  if (typeof o.seed !== 'string' || o.seed.length === 0 || o.seed.length > 256)
    fail('spec.seed', 'must be a string of 1..256 chars')
  const batchSize = int(o.batchSize, 'spec.batchSize', 1, 1 << 20)
  if (profile.microBatchSize !== batchSize)
    fail('profile.microBatchSize', 'must equal spec.batchSize for training')
  if (profile.weightsSupply !== 'feeds') fail('profile.weightsSupply', "must be 'feeds' for training")
  const spec: TrainingJobSpec = {
    kind: 'training',
    profile,
    model,
    loss: oneOf(o.loss, 'spec.loss', ['softmax-cross-entropy', 'mse'] as const),
    optimizer,
    batchSize,
    epochs: int(o.epochs, 'spec.epochs', 1, 1_000_000),
    seed: o.seed,
    checkpointInterval: int(o.checkpointInterval, 'spec.checkpointInterval', 1, 1 << 30),
  }
  if (o.data !== undefined) spec.data = parseTrainingData(o.data)
  // every model form can carry attribution: it differentiates the job's own step graph
  if (o.attribution !== undefined) spec.attribution = parseAttribution(o.attribution, spec)
  return spec
}

function parseTrainingModel(v: unknown): TrainingModelSpec {
  const m = obj(v, 'spec.model')
  if ('baseModel' in m) {
    onlyKeys(m, 'spec.model', ['baseModel', 'head', 'lora'])
    if (m.baseModel !== true) fail('spec.model.baseModel', 'must be true')
    if (m.head !== undefined && m.lora !== undefined) fail('spec.model', 'names both head and lora; pick one')
    if (m.head !== undefined) return { baseModel: true, head: parseHead(m.head) }
    if (m.lora !== undefined) return { baseModel: true, lora: parseLora(m.lora) }
    return { baseModel: true }
  }
  onlyKeys(m, 'spec.model', ['architecture'])
  const a = obj(m.architecture, 'spec.model.architecture')
  onlyKeys(a, 'spec.model.architecture', ['inputFeatures', 'hiddenLayers', 'outputs', 'activation'])
  return {
    architecture: {
      inputFeatures: int(a.inputFeatures, 'spec.model.architecture.inputFeatures', 1, 1 << 20),
      ...parseLayers(a, 'spec.model.architecture'),
    },
  }
}

/** Hidden layers, outputs and activation of a generated network. */
function parseLayers(
  a: Record<string, unknown>,
  path: string,
): { hiddenLayers: number[]; outputs: number; activation: Activation } {
  if (!Array.isArray(a.hiddenLayers) || a.hiddenLayers.length > 64)
    fail(`${path}.hiddenLayers`, 'must be a list')
  return {
    hiddenLayers: (a.hiddenLayers as unknown[]).map((h, i) =>
      int(h, `${path}.hiddenLayers[${i}]`, 1, 1 << 16),
    ),
    outputs: int(a.outputs, `${path}.outputs`, 1, 1 << 20),
    activation: oneOf(a.activation, `${path}.activation`, ['relu', 'tanh', 'gelu'] as const),
  }
}

function parseHead(v: unknown): TrainingHeadSpec {
  const h = obj(v, 'spec.model.head')
  onlyKeys(h, 'spec.model.head', ['features', 'hiddenLayers', 'outputs', 'activation'])
  if (typeof h.features !== 'string' || h.features.length === 0 || h.features.length > 256) {
    fail('spec.model.head.features', "must name the backbone's tensor the head reads (1..256 chars)")
  }
  return { features: h.features, ...parseLayers(h, 'spec.model.head') }
}

function parseLora(v: unknown): LoraSpec {
  const l = obj(v, 'spec.model.lora')
  onlyKeys(l, 'spec.model.lora', ['targets', 'rank', 'alpha'])
  const t = l.targets
  if (
    !Array.isArray(t) ||
    t.length === 0 ||
    t.length > 256 ||
    !t.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 256) ||
    new Set(t).size !== t.length
  ) {
    fail('spec.model.lora.targets', 'must be a non-empty list of distinct weight initializer names')
  }
  const rank = int(l.rank, 'spec.model.lora.rank', 1, 4096)
  return { targets: t as string[], rank, alpha: num(l.alpha ?? rank, 'spec.model.lora.alpha', 0, 1e6, true) }
}

function parseOptimizer(v: unknown): OptimizerSpec {
  const opt = obj(v, 'spec.optimizer')
  const type = oneOf(opt.type, 'spec.optimizer.type', ['sgd', 'adam'] as const)
  if (type === 'sgd') {
    onlyKeys(opt, 'spec.optimizer', ['type', 'learningRate', 'momentum'])
    return {
      type,
      learningRate: num(opt.learningRate, 'spec.optimizer.learningRate', 0, 10, true),
      momentum: num(opt.momentum ?? 0, 'spec.optimizer.momentum', 0, 1),
    }
  }
  onlyKeys(opt, 'spec.optimizer', ['type', 'learningRate', 'beta1', 'beta2', 'epsilon'])
  return {
    type,
    learningRate: num(opt.learningRate, 'spec.optimizer.learningRate', 0, 10, true),
    beta1: num(opt.beta1 ?? 0.9, 'spec.optimizer.beta1', 0, 1),
    beta2: num(opt.beta2 ?? 0.999, 'spec.optimizer.beta2', 0, 1),
    epsilon: num(opt.epsilon ?? 1e-8, 'spec.optimizer.epsilon', 0, 1, true),
  }
}

function parseTrainingData(v: unknown): NonNullable<TrainingJobSpec['data']> {
  const d = obj(v, 'spec.data')
  onlyKeys(d, 'spec.data', ['features', 'targets'])
  const data: NonNullable<TrainingJobSpec['data']> = {}
  if (d.features !== undefined) data.features = String(d.features)
  if (d.targets !== undefined) data.targets = String(d.targets)
  return data
}

const CONTENT_HASH = /^0x[0-9a-f]{64}$/
const TENSOR_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/

function parseAttribution(v: unknown, spec: TrainingJobSpec): TrainingAttributionSpec {
  const a = obj(v, 'spec.attribution')
  onlyKeys(a, 'spec.attribution', ['method', 'manifest', 'validation'])
  const method = oneOf(a.method, 'spec.attribution.method', attributionMethods)
  // KNN-Shapley's utility is a classifier's vote: refuse at submission, not after training
  if (method === 'knn-shapley-v1' && spec.loss !== 'softmax-cross-entropy') {
    fail(
      'spec.attribution.method',
      'knn-shapley-v1 needs class labels (softmax-cross-entropy); use tracin-cp-v1',
    )
  }
  if (typeof a.manifest !== 'string' || !CONTENT_HASH.test(a.manifest)) {
    fail(
      'spec.attribution.manifest',
      "must be the manifest file's lowercase 0x-prefixed SHA-256 content hash",
    )
  }
  const val = obj(a.validation, 'spec.attribution.validation')
  onlyKeys(val, 'spec.attribution.validation', ['features', 'targets'])
  const name = (x: unknown, path: string): string => {
    if (typeof x !== 'string' || !TENSOR_NAME.test(x)) fail(path, 'must be a tensor name (1..128 chars)')
    return x
  }
  const validation = {
    features: name(val.features, 'spec.attribution.validation.features'),
    targets: name(val.targets, 'spec.attribution.validation.targets'),
  }
  // the validation set is held out: the same tensor as a training one would measure nothing
  const training = [spec.data?.features ?? 'x', spec.data?.targets ?? 'y']
  if (validation.features === validation.targets)
    fail('spec.attribution.validation', 'names one tensor twice')
  for (const n of [validation.features, validation.targets]) {
    if (training.includes(n)) fail('spec.attribution.validation', `names the training tensor "${n}"`)
  }
  return { method, manifest: a.manifest as `0x${string}`, validation }
}

function parseSequenceSpec(o: Record<string, unknown>): SequenceJobSpec {
  onlyKeys(o, 'spec', ['kind', 'profile', 'state', 'inputAxes', 'outputs'])
  const profile = parseReplayProfile(o.profile)
  if (profile.microBatchSize !== 1) fail('profile.microBatchSize', 'must be 1 for a sequence job')
  // a chunk's leaf binds the exact state it hands on, so its replay must give the same bits
  if (profile.comparison !== 'bit-exact') fail('profile.comparison', "must be 'bit-exact' for a sequence job")
  if (!Array.isArray(o.state) || o.state.length === 0 || o.state.length > 64) {
    fail(
      'spec.state',
      'must list 1..64 state pairs { "output": ..., "input": ... } (--state <output>=<input>)',
    )
  }
  const state = o.state.map((p, i) => {
    const pair = obj(p, `spec.state[${i}]`)
    onlyKeys(pair, `spec.state[${i}]`, ['input', 'output'])
    if (typeof pair.input !== 'string' || typeof pair.output !== 'string')
      fail(`spec.state[${i}]`, 'must name an input and an output')
    return { input: pair.input, output: pair.output }
  })
  if (new Set(state.map((p) => p.input)).size !== state.length)
    fail('spec.state', 'names a state input twice')
  const spec: SequenceJobSpec = { kind: 'sequence', profile, state }
  if (o.inputAxes !== undefined) spec.inputAxes = parseInputAxes(o.inputAxes)
  if (o.outputs !== undefined) {
    if (!Array.isArray(o.outputs) || !o.outputs.every((x) => typeof x === 'string') || o.outputs.length === 0)
      fail('spec.outputs', 'must be a non-empty list of output names')
    spec.outputs = o.outputs as string[]
  }
  return spec
}

/** A CPU profile with this host's ONNX Runtime version: the usual starting point. */
export function cpuReplayProfile(
  ortVersion: string,
  microBatchSize: number,
  weightsSupply: ReplayProfile['weightsSupply'] = 'initializers',
): ReplayProfile {
  return {
    ortVersion,
    graphOptimizationLevel: 'all',
    intraOpThreads: 1,
    interOpThreads: 1,
    microBatchSize,
    executionProvider: 'cpu',
    weightsSupply,
    comparison: 'bit-exact',
  }
}
