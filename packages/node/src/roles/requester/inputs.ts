/**
 * Reading and checking what a requester submits (model, inputs, training spec, datanet
 * manifest) before anything is stored or offered: a job no provider could run fails here,
 * with a RoleError that says what to change, not after an award.
 */
import { readFile } from 'node:fs/promises'
import { contentHashOf } from '@ocn/protocol'
import { escrowSource, readRequesterFunds } from '../../chain/reads.js'
import { ortVersion } from '../../executor/capabilities.js'
import { executorVerdict } from '../../executor/errors.js'
import { readTensorFiles } from '../../executor/formats/index.js'
import { cpuReplayProfile, parseJobSpec, type TrainingJobSpec } from '../../executor/spec.js'
import type { NamedTensors } from '../../executor/tensor.js'
import { checkAttributionDataset, parseJobDatanet } from '../attribution.js'
import { RoleError } from '../errors.js'
import type { SubmitJobParams } from '../interface.js'
import type { RequesterContext } from './context.js'

export async function readInputs(params: SubmitJobParams) {
  let model: Uint8Array
  try {
    model = new Uint8Array(await readFile(params.modelPath))
  } catch (cause) {
    throw new RoleError('ROLE_FILE_UNREADABLE', `cannot read the model file ${params.modelPath}`, { cause })
  }
  let inputs: NamedTensors
  try {
    inputs = await readTensorFiles([params.inputsPath])
  } catch (cause) {
    throw new RoleError('ROLE_FILE_UNREADABLE', `cannot read the inputs file ${params.inputsPath}`, {
      cause,
      details: (cause as Error).message,
    })
  }
  return { model, inputs }
}

/** Runs one of the executor's pre-run checks; what it refuses becomes ROLE_INPUT_MISMATCH. */
export async function inputsFit<T>(check: () => Promise<T>, modelPath: string, mismatch: string): Promise<T> {
  try {
    return await check()
  } catch (cause) {
    // a verdict on the job; anything else (a timeout, a crashed worker) is this node's trouble
    const verdict = executorVerdict(cause)
    if (verdict === undefined) throw cause
    throw new RoleError(
      'ROLE_INPUT_MISMATCH',
      // the executor's refusal names the blocker and the flag that fixes it: it leads the message
      verdict === 'model-invalid'
        ? `the model ${modelPath} cannot be loaded`
        : `${mismatch}: ${(cause as { shortMessage?: string }).shortMessage ?? (cause as Error).message}`,
      { cause, details: (cause as Error).message },
    )
  }
}

/**
 * A training job's spec file (architecture or base model, optimizer, epochs, seed), with this
 * host's replay profile when it pins none, and the datanet manifest's bytes when given.
 */
export async function readTrainingSpec(
  params: SubmitJobParams,
): Promise<{ spec: TrainingJobSpec; datanetBytes: Uint8Array | undefined }> {
  if (params.trainingSpecPath === undefined) {
    throw new RoleError('ROLE_INVALID_PARAMS', 'a training job needs a training spec file', {
      details: 'pass --training <spec.json> (see docs/execution.md, "The training spec")',
    })
  }
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(await readFile(params.trainingSpecPath, 'utf8')) as Record<string, unknown>
  } catch (cause) {
    throw new RoleError('ROLE_FILE_UNREADABLE', `cannot read the training spec ${params.trainingSpecPath}`, {
      cause,
      details: (cause as Error).message,
    })
  }
  // the replay profile is this host's CPU profile unless the spec pins one
  if (raw.profile === undefined && typeof raw.batchSize === 'number') {
    raw.profile = cpuReplayProfile(ortVersion(), raw.batchSize, 'feeds')
  }
  // a spec that names attribution may leave the manifest's hash to --datanet
  const datanetBytes = await readDatanet(params, raw)
  try {
    const parsed = parseJobSpec(raw)
    if (parsed.kind !== 'training') throw new Error('spec.kind must be "training"')
    return { spec: parsed, datanetBytes }
  } catch (cause) {
    throw new RoleError('ROLE_INVALID_PARAMS', 'the training spec is not valid', {
      cause,
      details: (cause as Error).message,
    })
  }
}

/** Reads --datanet and fills the spec's attribution.manifest with its hash when left out. */
async function readDatanet(
  params: SubmitJobParams,
  raw: Record<string, unknown>,
): Promise<Uint8Array | undefined> {
  if (params.datanetManifestPath === undefined) return undefined
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(params.datanetManifestPath))
  } catch (cause) {
    throw new RoleError(
      'ROLE_FILE_UNREADABLE',
      `cannot read the datanet manifest ${params.datanetManifestPath}`,
      { cause, details: (cause as Error).message },
    )
  }
  const attribution = raw.attribution
  if (typeof attribution === 'object' && attribution !== null && !Array.isArray(attribution)) {
    const a = attribution as Record<string, unknown>
    a.manifest ??= contentHashOf(bytes)
  }
  return bytes
}

/**
 * An attribution job is checked whole before it is offered: the manifest file is the one the
 * spec names, describes this dataset file, covers its training rows, the validation tensors
 * exist, and every leaf fits one result request (a verifier asks for all checkpoints at once
 * when it replays the attribution leaf). A manifest given for a spec without attribution is
 * refused too.
 */
export function checkAttributionJob(
  spec: TrainingJobSpec,
  inputs: NamedTensors,
  inputBytes: Uint8Array,
  datanetBytes: Uint8Array | undefined,
): void {
  if (spec.attribution === undefined) {
    if (datanetBytes === undefined) return
    throw new RoleError(
      'ROLE_INVALID_PARAMS',
      'a datanet manifest was given but the spec names no attribution',
      {
        details: 'add "attribution": { "method": "tracin-cp-v1", "validation": { ... } } to the spec',
      },
    )
  }
  if (datanetBytes === undefined) {
    throw new RoleError('ROLE_INVALID_PARAMS', 'the spec names attribution: pass its datanet manifest', {
      details: 'pass --datanet <manifest.json> (see docs/attribution.md)',
    })
  }
  checkAttributionDataset(spec, inputs, parseJobDatanet(datanetBytes, spec, contentHashOf(inputBytes)))
}

/**
 * The requester must be able to escrow the max price: its prepaid market balance covers it
 * (the award takes the price from there), or the OPEN it holds does (the award pulls it by
 * transferFrom). A deposit short of the price is not used in part, as the market does.
 */
export async function checkBalance(
  context: Pick<RequesterContext, 'chain' | 'keys'>,
  maxPrice: bigint,
): Promise<void> {
  const { chain, keys } = context
  const funds = await readRequesterFunds(chain.client, chain.deployment, keys.account.address)
  if (escrowSource(funds, maxPrice) === undefined) {
    throw new RoleError('ROLE_INSUFFICIENT_BALANCE', 'not enough OPEN to escrow the max price', {
      details:
        `max price ${maxPrice}, wallet balance ${funds.balance}, market balance ${funds.market} (base units); ` +
        'either must cover it: get OPEN, top up the market balance (`ocn market deposit <amount>`) or lower --max-price',
    })
  }
}
