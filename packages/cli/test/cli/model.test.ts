/**
 * `ocn model merge-lora` in-process (files in a temp dir): the written model is the library's
 * merge of the given files, and a missing flag is a usage error naming it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { encodeSafetensors, LORA_FORMAT, mergeLora } from '@ocn/node'
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliIo } from '../../src/io.js'
import { runCli } from '../../src/run.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-merge-lora-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

function io(): CliIo & { out: () => string } {
  const chunks: string[] = []
  const sink = new Writable({
    write(chunk, _e, cb) {
      chunks.push(chunk.toString())
      cb()
    },
  })
  return {
    stdout: sink,
    stderr: sink,
    stdin: process.stdin,
    env: {},
    cwd: dir,
    out: () => chunks.join(''),
  }
}

const f32 = (dims: number[], values: number[]) => ({
  dtype: 'float32' as const,
  dims,
  data: new Uint8Array(Float32Array.from(values).buffer),
})

describe('ocn model merge-lora', () => {
  it('writes the base model with the adapters folded in', async () => {
    const layer = (i: number, o: number, activation: 'relu' | 'none') => ({
      inFeatures: i,
      outFeatures: o,
      weight: Float32Array.from({ length: i * o }, (_, k) => Math.sin(k)),
      bias: new Float32Array(o),
      activation,
    })
    const base = encodeOnnxModel(
      buildMlpModel({ layers: [layer(3, 4, 'relu'), layer(4, 2, 'none')], softmaxOutput: false }),
    )
    const adapters = encodeSafetensors(
      {
        'layer1.weight.lora_A': f32([4, 1], [0.5, -1, 2, 0.25]),
        'layer1.weight.lora_B': f32([1, 2], [1, -1]),
      },
      { format: LORA_FORMAT, rank: '1', alpha: '2' },
    )
    await writeFile(join(dir, 'base.onnx'), base)
    await writeFile(join(dir, 'adapters.safetensors'), adapters)
    const cli = io()
    const code = await runCli(
      [
        'model',
        'merge-lora',
        '--model',
        'base.onnx',
        '--adapters',
        'adapters.safetensors',
        '--out',
        'merged.onnx',
        '--json',
      ],
      cli,
    )
    expect(code).toBe(0)
    const report = JSON.parse(cli.out())
    expect(report.weights).toEqual(['layer1.weight'])
    const written = new Uint8Array(await readFile(join(dir, 'merged.onnx')))
    expect(written).toEqual(mergeLora(base, adapters).model)
    expect(written).not.toEqual(base)
  })

  it('names the missing flag', async () => {
    const cli = io()
    expect(await runCli(['model', 'merge-lora', '--model', 'base.onnx', '--out', 'x.onnx'], cli)).toBe(2)
    expect(cli.out()).toContain('--adapters is required')
  })
})
