/**
 * `ocn model propose|object|status`: the gated release of a model in the ModelRegistry. A
 * proposal anchors the evaluation report hash (the review period starts); anyone may object
 * with the governed bond; governance rules on objections and approves after the review.
 */
import { readFile } from 'node:fs/promises'
import {
  approveToken,
  bindTrainingJob,
  getModel,
  getModelReview,
  modelRegistryAbi,
  objectToModel,
  proposeModel,
} from '@ocn/contracts-client'
import { contentHashOf } from '@ocn/protocol'
import { type Hex, isHex, keccak256, stringToHex } from 'viem'
import { readContract } from 'viem/actions'
import { type Command, type CommandContext, stringFlag } from '../command.js'
import { passphraseFlag } from './account.js'
import { ChainCommandError, formatOpen, toChainCommandError } from './chain-access.js'
import { openDeployedContract } from './contract-access.js'

function openModels(context: CommandContext, sign: boolean) {
  return openDeployedContract(context, sign, 'modelRegistry', 'ModelRegistry')
}

function hash32(text: string | undefined, what: string): Hex {
  if (text === undefined || !isHex(text) || text.length !== 66) {
    throw new ChainCommandError(
      'CHAIN_INVALID_ARGUMENT',
      `${what} must be a 32-byte 0x hash (got "${text ?? ''}")`,
    )
  }
  return text.toLowerCase() as Hex
}

/** A model named by its file (hashed) or by its 0x content hash. */
async function modelHashOf(arg: string | undefined): Promise<Hex> {
  if (arg !== undefined && isHex(arg)) return hash32(arg, 'the model hash')
  if (arg === undefined)
    throw new ChainCommandError('CHAIN_INVALID_ARGUMENT', 'name the model file or its hash')
  return contentHashOf(await readFile(arg))
}

export const modelProposeCommand: Command = {
  path: ['model', 'propose'],
  summary: 'propose a model for release, anchoring its evaluation report hash (the review starts)',
  usage:
    'ocn model propose <model.onnx|hash> --pointer <uri> --spec-hash <0x…> --report-hash <0x…> [--training-job <0x…>] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {
    ...passphraseFlag,
    pointer: { type: 'string', value: '<uri>', description: 'where the artifact can be fetched' },
    'spec-hash': { type: 'string', value: '<0x…>', description: 'hash of the training spec' },
    'report-hash': { type: 'string', value: '<0x…>', description: 'hash of the evaluation report' },
    'training-job': { type: 'string', value: '<0x…>', description: 'the job that trained it (attribution)' },
  },
  async run(context) {
    const modelHash = await modelHashOf(context.positionals[0])
    const storagePointer = stringFlag(context.flags, 'pointer') ?? ''
    const trainingSpecHash = hash32(stringFlag(context.flags, 'spec-hash'), '--spec-hash')
    const evaluationReportHash = hash32(stringFlag(context.flags, 'report-hash'), '--report-hash')
    const jobFlag = stringFlag(context.flags, 'training-job')
    const jobId = jobFlag === undefined ? undefined : hash32(jobFlag, '--training-job')
    const { access, registry } = await openModels(context, true)
    try {
      const proposed = await proposeModel(access.client, {
        modelRegistry: registry,
        modelHash,
        storagePointer,
        trainingSpecHash,
        evaluationReportHash,
      })
      if (jobId !== undefined)
        await bindTrainingJob(access.client, { modelRegistry: registry, modelHash, jobId })
      const review = await getModelReview(access.client, { modelRegistry: registry, modelHash })
      return {
        json: {
          modelHash,
          reviewEndsAt: review.reviewEndsAt,
          trainingJob: jobId ?? null,
          transaction: proposed.hash,
        },
        text: `Proposed ${modelHash}; review ends ${new Date(review.reviewEndsAt * 1000).toISOString()} (transaction ${proposed.hash})`,
      }
    } catch (cause) {
      throw toChainCommandError(cause, access)
    }
  },
}

export const modelObjectCommand: Command = {
  path: ['model', 'object'],
  summary: 'object to a proposed model, locking the governed objection bond',
  usage: 'ocn model object <model.onnx|hash> --reason <text> [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {
    ...passphraseFlag,
    reason: { type: 'string', value: '<text>', description: 'why; its keccak256 is recorded' },
  },
  async run(context) {
    const modelHash = await modelHashOf(context.positionals[0])
    const reasonHash = keccak256(stringToHex(stringFlag(context.flags, 'reason') ?? ''))
    const { access, registry } = await openModels(context, true)
    try {
      const { objectionBond } = await readContract(access.client, {
        address: registry,
        abi: modelRegistryAbi,
        functionName: 'releaseParams',
      })
      if (objectionBond > 0n)
        await approveToken(access.client, {
          token: access.deployment.addresses.token,
          spender: registry,
          amount: objectionBond,
        })
      const { hash } = await objectToModel(access.client, { modelRegistry: registry, modelHash, reasonHash })
      return {
        json: { modelHash, bond: objectionBond.toString(), reasonHash, transaction: hash },
        text: `Objected to ${modelHash} with a bond of ${formatOpen(objectionBond)} (transaction ${hash}); governance rules on it`,
      }
    } catch (cause) {
      throw toChainCommandError(cause, access)
    }
  },
}

export const modelStatusCommand: Command = {
  path: ['model', 'status'],
  summary: "a model's registry status, review and open objection",
  usage: 'ocn model status <model.onnx|hash> [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {},
  async run(context) {
    const modelHash = await modelHashOf(context.positionals[0])
    const { access, registry } = await openModels(context, false)
    try {
      const [model, review] = await Promise.all([
        getModel(access.client, { modelRegistry: registry, modelHash }),
        getModelReview(access.client, { modelRegistry: registry, modelHash }),
      ])
      const status = model?.status ?? 'none'
      const objection =
        review.objection === undefined
          ? null
          : { objector: review.objection.objector, bond: review.objection.bond.toString() }
      return {
        json: {
          modelHash,
          status,
          owner: model?.owner ?? null,
          reviewEndsAt: review.reviewEndsAt,
          objection,
        },
        text: [
          `${modelHash}: ${status}${model === undefined ? '' : ` (owner ${model.owner})`}`,
          review.reviewEndsAt > 0
            ? `  review ends ${new Date(review.reviewEndsAt * 1000).toISOString()}`
            : '',
          objection === null
            ? ''
            : `  objection by ${objection.objector}, bond ${formatOpen(BigInt(objection.bond))}`,
        ]
          .filter((l) => l !== '')
          .join('\n'),
      }
    } catch (cause) {
      throw toChainCommandError(cause, access)
    }
  },
}

export const modelCommands = [modelProposeCommand, modelObjectCommand, modelStatusCommand]
