import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { decodeOnnxModel, extractMlp, type Mlp } from '../onnx/index.js'
import { generateCircuit } from './circuit.js'
import { ZkError } from './errors.js'
import { defaultZkOptions, type ZkOptions } from './options.js'
import { type AccuracyReport, measureQuantizationError, type QuantizedMlp, quantizeMlp } from './quantize.js'
import { runZkTask } from './worker-client.js'
import type { R1csInfoResult } from './worker-protocol.js'

export const ARTIFACTS_MANIFEST = 'artifacts.json'
/**
 * The manifest's format. 2: circuits whose public signals end with the job binding. Compiled
 * circuits are cached by the hash of their source, so a new circuit never reuses an old one's keys;
 * but a node loads every folder under its zk dir, and a version-1 folder (three public signals,
 * same model commitment) would shadow the new circuit and prove what no job accepts.
 */
export const ARTIFACTS_VERSION = 2
const CIRCUIT_FILE = 'circuit.circom'

/** A quantized MLP as JSON (bigints as decimal strings). */
export interface SerializedQuantizedMlp {
  scaleBits: number
  valueBits: number
  inputSize: number
  outputSize: number
  layers: { inFeatures: number; outFeatures: number; relu: boolean; weights: string[][]; bias: string[] }[]
}

export function serializeQuantizedMlp(model: QuantizedMlp): SerializedQuantizedMlp {
  return {
    scaleBits: model.scaleBits,
    valueBits: model.valueBits,
    inputSize: model.inputSize,
    outputSize: model.outputSize,
    layers: model.layers.map((l) => ({
      inFeatures: l.inFeatures,
      outFeatures: l.outFeatures,
      relu: l.relu,
      weights: l.weights.map((row) => row.map((w) => w.toString())),
      bias: l.bias.map((b) => b.toString()),
    })),
  }
}

export function deserializeQuantizedMlp(json: SerializedQuantizedMlp): QuantizedMlp {
  return {
    scaleBits: json.scaleBits,
    valueBits: json.valueBits,
    inputSize: json.inputSize,
    outputSize: json.outputSize,
    layers: json.layers.map((l) => ({
      inFeatures: l.inFeatures,
      outFeatures: l.outFeatures,
      relu: l.relu,
      weights: l.weights.map((row) => row.map((w) => BigInt(w))),
      bias: l.bias.map((b) => BigInt(b)),
    })),
  }
}

/** Everything needed to prove and verify for one model: files of one circuit and one Groth16 setup. */
export interface ZkCircuitArtifacts {
  /** sha256 of the generated circom source. */
  circuitHash: string
  /** Poseidon commitment to the quantized model (decimal field element); public signal 0. */
  modelCommitment: string
  constraints: number
  publicSignalCount: number
  /** Folder holding the manifest, keys and verifier of this setup. */
  dir: string
  circuitPath: string
  r1csPath: string
  wasmPath: string
  symPath: string
  zkeyPath: string
  verificationKeyPath: string
  solidityVerifierPath: string
  ptau: { source: 'local' | 'file'; power: number | undefined; path: string }
  /** Witness indices of the output vector (read back after proving). */
  outputWitnessIndices: number[]
  model: SerializedQuantizedMlp
}

export type ZkBuildStage = 'quantize' | 'generate' | 'compile' | 'ptau' | 'setup' | 'done'

export interface ZkBuildProgressEvent {
  stage: ZkBuildStage
  message: string
}

export interface BuildZkCircuitParameters {
  /** An ONNX file holding a dense ReLU MLP (Gemm or MatMul + Add). */
  modelPath?: string
  /** Or the float MLP itself. */
  model?: Mlp
  scaleBits?: number
  valueBits?: number
  /** A powers-of-tau file (a public ceremony's); without it one is generated locally. */
  ptauPath?: string
  /** Where compiled circuits, ptau files and keys are cached; default `<cwd>/.cache/ocn-zk`. */
  cacheDir?: string
  /** Float inputs on which to report the quantization's accuracy loss. */
  calibrationInputs?: readonly ArrayLike<number>[]
  onProgress?: (event: ZkBuildProgressEvent) => void
  signal?: AbortSignal
  options?: Partial<ZkOptions>
}

export interface BuildZkCircuitResult {
  artifacts: ZkCircuitArtifacts
  quantized: QuantizedMlp
  /** Present when calibration inputs were given. */
  accuracy: AccuracyReport | undefined
  /** Seconds spent per stage in this call (0 where the cache answered). */
  timings: { compileS: number; ptauS: number; setupS: number }
  cached: { circuit: boolean; ptau: boolean; keys: boolean }
}

export function defaultZkCacheDir(): string {
  return resolve('.cache', 'ocn-zk')
}

async function loadMlp(params: BuildZkCircuitParameters): Promise<Mlp> {
  if (params.model) return params.model
  if (!params.modelPath) throw new ZkError('ZK_UNSUPPORTED_MODEL', 'give a model or a modelPath')
  let bytes: Uint8Array
  try {
    // A plain Uint8Array copy: a pooled Node Buffer makes the codec's tensor views see the whole pool.
    bytes = new Uint8Array(await readFile(params.modelPath))
  } catch (cause) {
    throw new ZkError('ZK_ARTIFACTS', `cannot read the model file ${params.modelPath}`, { cause })
  }
  try {
    return extractMlp(decodeOnnxModel(bytes))
  } catch (cause) {
    throw new ZkError('ZK_UNSUPPORTED_MODEL', `${params.modelPath} is not a dense MLP the circuit handles`, {
      details: cause instanceof Error ? cause.message : String(cause),
      cause,
    })
  }
}

function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new ZkError('ZK_ABORTED', `${what} was aborted`, { cause: signal.reason })
}

/** Runs circom's WebAssembly build inside `dir`: its WASI sandbox only sees paths under its cwd. */
function compileCircom(dir: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const require = createRequire(import.meta.url)
  const cli = join(dirname(require.resolve('circom2/package.json')), 'cli.js')
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      [cli, CIRCUIT_FILE, '--r1cs', '--wasm', '--sym', '--O1', '-o', '.'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let output = ''
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-8000)
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    const onAbort = (): void => {
      child.kill('SIGKILL')
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    child.on('error', (cause) =>
      reject(new ZkError('ZK_COMPILE_FAILED', 'could not start circom', { cause })),
    )
    child.on('exit', (code, exitSignal) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (signal?.aborted) reject(new ZkError('ZK_ABORTED', 'circuit compilation was aborted'))
      else if (code === 0) resolvePromise()
      else
        reject(
          new ZkError('ZK_COMPILE_FAILED', `circom failed (${exitSignal ?? `exit code ${code}`})`, {
            details: stripAnsi(output),
          }),
        )
    })
  })
}

/** circom colours its output; error details are plain text. */
function stripAnsi(text: string): string {
  return text.replaceAll(`${String.fromCharCode(27)}[`, '[').replace(/\[[0-9;]*m/g, '')
}

/** Witness indices of named signals, from circom's .sym file (labelIdx,varIdx,componentIdx,name). */
export function readSymIndices(symPath: string, names: readonly string[]): number[] {
  const wanted = new Map(names.map((n, i) => [n, i]))
  const indices = new Array<number>(names.length).fill(-1)
  for (const line of readFileSync(symPath, 'utf8').split('\n')) {
    const parts = line.split(',')
    const name = parts[3]
    if (name === undefined) continue
    const at = wanted.get(name)
    if (at !== undefined) indices[at] = Number(parts[1])
  }
  const missing = names.filter((_, i) => !(indices[i]! >= 0))
  if (missing.length > 0) {
    throw new ZkError('ZK_ARTIFACTS', 'the compiled circuit lost its output signals', {
      details: `no witness index for ${missing.join(', ')} in ${symPath}`,
    })
  }
  return indices
}

/** Identifies a user's ptau file cheaply (ceremony files are gigabytes): size plus head and tail bytes. */
function ptauFileTag(path: string): string {
  const size = statSync(path).size
  const hash = createHash('sha256').update(String(size))
  const fd = openSync(path, 'r')
  try {
    const chunk = Buffer.alloc(Math.min(65536, size))
    readSync(fd, chunk, 0, chunk.length, 0)
    hash.update(chunk)
    readSync(fd, chunk, 0, chunk.length, Math.max(0, size - chunk.length))
    hash.update(chunk)
  } finally {
    closeSync(fd)
  }
  return `file-${hash.digest('hex').slice(0, 16)}`
}

function requiredPower(info: R1csInfoResult): number {
  // snarkjs's Groth16 domain holds the constraints plus one row per public input and output, plus one.
  const rows = info.constraints + info.publicInputs + info.outputs + 1
  return Math.max(1, Math.ceil(Math.log2(rows)))
}

function localPtauPath(cacheDir: string, power: number): string {
  return join(cacheDir, 'ptau', `local-${power}.ptau`)
}

/** The smallest cached local ptau at least as large as needed. */
function findLocalPtau(
  cacheDir: string,
  power: number,
  maxPower: number,
): { path: string; power: number } | undefined {
  for (let p = power; p <= maxPower; p++) {
    const path = localPtauPath(cacheDir, p)
    if (existsSync(path)) return { path, power: p }
  }
  return undefined
}

/**
 * Quantizes the model, generates and compiles its circuit, runs (or reuses) the powers of tau and the
 * Groth16 setup, and exports the verification key and the Solidity verifier. Compiled circuits are
 * cached by the hash of their source, keys additionally by the ptau they came from.
 */
export async function buildZkCircuit(params: BuildZkCircuitParameters): Promise<BuildZkCircuitResult> {
  const options: ZkOptions = { ...defaultZkOptions, ...params.options }
  const { signal } = params
  const progress = (stage: ZkBuildStage, message: string): void => params.onProgress?.({ stage, message })
  const cacheDir = resolve(params.cacheDir ?? defaultZkCacheDir())
  const timings = { compileS: 0, ptauS: 0, setupS: 0 }
  const cached = { circuit: true, ptau: true, keys: true }

  progress('quantize', 'reading and quantizing the model')
  const mlp = await loadMlp(params)
  const quantized = quantizeMlp(mlp, {
    scaleBits: params.scaleBits ?? options.scaleBits,
    valueBits: params.valueBits ?? options.valueBits,
  })
  const accuracy = params.calibrationInputs
    ? measureQuantizationError(mlp, quantized, params.calibrationInputs)
    : undefined
  checkAborted(signal, 'the circuit build')

  progress('generate', 'generating the circom source')
  const circuit = generateCircuit(quantized)
  const circuitDir = join(cacheDir, 'circuits', circuit.circuitHash)
  const circuitPath = join(circuitDir, CIRCUIT_FILE)
  const r1csPath = join(circuitDir, 'circuit.r1cs')
  const wasmPath = join(circuitDir, 'circuit_js', 'circuit.wasm')
  const symPath = join(circuitDir, 'circuit.sym')
  try {
    mkdirSync(circuitDir, { recursive: true })
  } catch (cause) {
    throw new ZkError('ZK_ARTIFACTS', `cannot create the cache folder ${circuitDir}`, { cause })
  }
  if (!existsSync(r1csPath) || !existsSync(wasmPath) || !existsSync(symPath)) {
    cached.circuit = false
    progress('compile', `compiling circuit ${circuit.circuitHash.slice(0, 12)} with circom`)
    const started = performance.now()
    // A private build folder, renamed into place, so concurrent builds of one circuit do not collide.
    const buildDir = `${circuitDir}.build-${process.pid}-${randomBytes(4).toString('hex')}`
    mkdirSync(buildDir, { recursive: true })
    writeFileSync(join(buildDir, CIRCUIT_FILE), circuit.source)
    await compileCircom(buildDir, options.setupTimeoutMs, signal).catch((error: unknown) => {
      rmSync(buildDir, { recursive: true, force: true })
      throw error
    })
    try {
      // the wasm folder and the .sym last: their presence marks a complete compile
      for (const name of [CIRCUIT_FILE, 'circuit.r1cs', 'circuit_js', 'circuit.sym']) {
        const target = join(circuitDir, name)
        if (!existsSync(target)) renameSync(join(buildDir, name), target)
      }
    } finally {
      rmSync(buildDir, { recursive: true, force: true })
    }
    timings.compileS = (performance.now() - started) / 1000
  } else {
    progress('compile', `circuit ${circuit.circuitHash.slice(0, 12)} is cached`)
  }
  const outputWitnessIndices = readSymIndices(symPath, circuit.outputSignalNames)
  const info = await runZkTask<R1csInfoResult>(
    { op: 'r1csInfo', r1csPath },
    { signal, timeoutMs: options.setupTimeoutMs },
  )
  const power = requiredPower(info)

  let ptau: ZkCircuitArtifacts['ptau']
  let ptauTag: string
  if (params.ptauPath) {
    const path = resolve(params.ptauPath)
    if (!existsSync(path))
      throw new ZkError('ZK_SETUP_FAILED', `the ptau file ${params.ptauPath} does not exist`)
    ptau = { source: 'file', power: undefined, path }
    ptauTag = ptauFileTag(path)
  } else {
    const wanted = Math.max(power, options.minPtauPower)
    if (wanted > options.maxLocalPtauPower) {
      throw new ZkError('ZK_SETUP_FAILED', `the circuit needs a powers-of-tau file of power ${power}`, {
        details: `local generation stops at power ${options.maxLocalPtauPower}; pass a ceremony file as ptauPath`,
      })
    }
    let found = findLocalPtau(cacheDir, wanted, options.maxLocalPtauPower)
    if (!found) {
      cached.ptau = false
      progress(
        'ptau',
        `generating a local powers of tau of power ${wanted} (single contributor, for testing)`,
      )
      const started = performance.now()
      mkdirSync(join(cacheDir, 'ptau'), { recursive: true })
      const path = localPtauPath(cacheDir, wanted)
      await runZkTask(
        { op: 'powersOfTau', power: wanted, outPath: path, entropy: randomBytes(32).toString('hex') },
        { signal, timeoutMs: options.setupTimeoutMs, onProgress: (m) => progress('ptau', m) },
      )
      timings.ptauS = (performance.now() - started) / 1000
      found = { path, power: wanted }
    }
    ptau = { source: 'local', power: found.power, path: found.path }
    ptauTag = `local-${found.power}`
  }

  const keyDir = join(circuitDir, ptauTag)
  const manifestPath = join(keyDir, ARTIFACTS_MANIFEST)
  const artifacts: ZkCircuitArtifacts = {
    circuitHash: circuit.circuitHash,
    modelCommitment: circuit.modelCommitment.toString(),
    constraints: info.constraints,
    publicSignalCount: info.publicInputs + info.outputs,
    dir: keyDir,
    circuitPath,
    r1csPath,
    wasmPath,
    symPath,
    zkeyPath: join(keyDir, 'circuit.zkey'),
    verificationKeyPath: join(keyDir, 'verification_key.json'),
    solidityVerifierPath: join(keyDir, 'Groth16Verifier.sol'),
    ptau,
    outputWitnessIndices,
    model: serializeQuantizedMlp(quantized),
  }
  if (existsSync(manifestPath) && existsSync(artifacts.zkeyPath)) {
    progress('setup', 'the Groth16 keys are cached')
  } else {
    cached.keys = false
    progress('setup', 'Groth16 setup and export of the verification key and Solidity verifier')
    const started = performance.now()
    mkdirSync(keyDir, { recursive: true })
    await runZkTask(
      {
        op: 'groth16Setup',
        r1csPath,
        ptauPath: ptau.path,
        zkeyPath: artifacts.zkeyPath,
        verificationKeyPath: artifacts.verificationKeyPath,
        solidityVerifierPath: artifacts.solidityVerifierPath,
        entropy: randomBytes(32).toString('hex'),
      },
      { signal, timeoutMs: options.setupTimeoutMs, onProgress: (m) => progress('setup', m) },
    ).catch((cause: unknown) => {
      if (cause instanceof ZkError && cause.code === 'ZK_ABORTED') throw cause
      throw new ZkError('ZK_SETUP_FAILED', 'the Groth16 setup failed', {
        details: cause instanceof Error ? cause.message : String(cause),
        cause,
      })
    })
    writeManifest(manifestPath, artifacts)
    timings.setupS = (performance.now() - started) / 1000
  }
  progress('done', `model commitment ${artifacts.modelCommitment}, ${artifacts.constraints} constraints`)
  return { artifacts, quantized, accuracy, timings, cached }
}

/** The manifest stores paths relative to its folder, so a cache folder can be moved or shipped. */
function writeManifest(path: string, artifacts: ZkCircuitArtifacts): void {
  const dir = dirname(path)
  const rel = (p: string): string => relative(dir, p)
  const stored = {
    version: ARTIFACTS_VERSION,
    ...artifacts,
    dir: '.',
    circuitPath: rel(artifacts.circuitPath),
    r1csPath: rel(artifacts.r1csPath),
    wasmPath: rel(artifacts.wasmPath),
    symPath: rel(artifacts.symPath),
    zkeyPath: rel(artifacts.zkeyPath),
    verificationKeyPath: rel(artifacts.verificationKeyPath),
    solidityVerifierPath: rel(artifacts.solidityVerifierPath),
    ptau: { ...artifacts.ptau, path: rel(artifacts.ptau.path) },
  }
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(stored, null, 1))
  renameSync(tmp, path)
}

/** Loads the artifacts of a built circuit from its key folder (the one holding artifacts.json). */
export function loadZkArtifacts(dir: string): ZkCircuitArtifacts {
  const base = resolve(dir)
  let stored: ZkCircuitArtifacts & { version?: number }
  try {
    stored = JSON.parse(readFileSync(join(base, ARTIFACTS_MANIFEST), 'utf8')) as ZkCircuitArtifacts & {
      version?: number
    }
  } catch (cause) {
    throw new ZkError('ZK_ARTIFACTS', `no readable ${ARTIFACTS_MANIFEST} in ${dir}`, { cause })
  }
  if (stored.version === 1) {
    throw new ZkError(
      'ZK_ARTIFACTS',
      `the circuit in ${dir} predates the job binding and can settle no job`,
      {
        details: 'rebuild it with `ocn zk build` (or buildZkCircuit) and register the new verifier',
      },
    )
  }
  if (stored.version !== ARTIFACTS_VERSION)
    throw new ZkError('ZK_ARTIFACTS', `unknown artifacts version ${String(stored.version)}`)
  const abs = (p: string): string => resolve(base, p)
  const { version: _version, ...rest } = stored
  return {
    ...rest,
    dir: base,
    circuitPath: abs(stored.circuitPath),
    r1csPath: abs(stored.r1csPath),
    wasmPath: abs(stored.wasmPath),
    symPath: abs(stored.symPath),
    zkeyPath: abs(stored.zkeyPath),
    verificationKeyPath: abs(stored.verificationKeyPath),
    solidityVerifierPath: abs(stored.solidityVerifierPath),
    ptau: { ...stored.ptau, path: abs(stored.ptau.path) },
  }
}

/** Lists the key folders under a cache dir (for a CLI's `zk list`). */
export function listZkArtifacts(cacheDir: string): string[] {
  const circuits = join(cacheDir, 'circuits')
  if (!existsSync(circuits)) return []
  const found: string[] = []
  for (const hash of readdirSync(circuits)) {
    const dir = join(circuits, hash)
    if (!statSync(dir).isDirectory()) continue
    for (const tag of readdirSync(dir)) {
      if (existsSync(join(dir, tag, ARTIFACTS_MANIFEST))) found.push(join(dir, tag))
    }
  }
  return found
}
