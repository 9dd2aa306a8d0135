/**
 * `ocn model merge-lora`: folds the adapters a LoRA training job returned into the base model
 * it was trained on and writes a plain ONNX model (docs/execution.md "Fine-tuning"). Local
 * files only: no node, chain or network.
 */
import { readFile, stat, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { mergeLora } from '@ocn/node'
import { contentHashOf } from '@ocn/protocol'
import { type Command, type CommandContext, stringFlag } from '../command.js'
import { CliError } from '../errors.js'

/** Models and adapter files above this are refused before they are read. */
const MAX_FILE_BYTES = 1024 * 1024 * 1024

const USAGE = 'ocn model merge-lora --model <base.onnx> --adapters <adapters.safetensors> --out <merged.onnx>'

function pathFlag(context: CommandContext, name: string): string {
  const value = stringFlag(context.flags, name)
  if (value === undefined || value === '')
    throw new CliError('CLI_USAGE', `--${name} is required; usage: ${USAGE}`)
  return resolve(context.io.cwd, value)
}

async function readBounded(path: string, flag: string): Promise<Uint8Array> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (cause) {
    throw new CliError('CLI_USAGE', `--${flag}: cannot read ${path}`, { cause })
  }
  if (size > MAX_FILE_BYTES) {
    throw new CliError('CLI_USAGE', `--${flag}: ${path} is larger than ${MAX_FILE_BYTES} bytes`)
  }
  return new Uint8Array(await readFile(path))
}

export const modelMergeLoraCommand: Command = {
  path: ['model', 'merge-lora'],
  summary: "fold a LoRA job's adapters into its base model, writing a plain ONNX model",
  usage: USAGE,
  configFlags: false,
  maxPositionals: 0,
  flags: {
    model: {
      type: 'string',
      value: '<file>',
      description: 'the base ONNX model the adapters were trained on',
    },
    adapters: {
      type: 'string',
      value: '<file>',
      description: "the LoRA job's result (safetensors, format ocn-lora-v1)",
    },
    out: { type: 'string', value: '<file>', description: 'where to write the merged ONNX model' },
  },
  async run(context) {
    const modelPath = pathFlag(context, 'model')
    const adaptersPath = pathFlag(context, 'adapters')
    const out = pathFlag(context, 'out')
    const merged = mergeLora(
      await readBounded(modelPath, 'model'),
      await readBounded(adaptersPath, 'adapters'),
    )
    await writeFile(out, merged.model)
    const hash = contentHashOf(merged.model)
    return {
      json: { out, hash, bytes: merged.model.byteLength, weights: merged.weights },
      text: `wrote ${out} (${merged.model.byteLength} bytes, ${hash})\nmerged: ${merged.weights.join(', ')}`,
    }
  },
}
