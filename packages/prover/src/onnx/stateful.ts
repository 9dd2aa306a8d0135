/**
 * A small stateful, multi-input model laid out like a streaming voice-activity detector
 * (Silero VAD's export): an audio chunk `[batch, samples]`, a recurrent state
 * `[2, batch, width]` whose batch axis is axis 1, and a scalar int64 sample rate in; a
 * speech probability `[batch, 1]` and the next state `[2, batch, width]` out. Tests use it
 * because its inputs break every "batch on axis 0" assumption at once.
 *
 * The graph: two tanh recurrent layers (the sample rate scales the chunk's projection),
 * a sigmoid read-out. Weights come from a fixed integer recurrence, so every build of the
 * same options is the same bytes.
 */
import { GraphBuilder } from './builder.js'
import type { OnnxModel } from './model.js'

export interface StatefulVadOptions {
  /** samples per audio chunk (a fixed axis of the `input` tensor) */
  samples?: number
  /** recurrent state width (the state is [2, batch, width]) */
  width?: number
  /** seeds the weights */
  seed?: number
}

/** The value names of the fixture, as a real VAD export names them. */
export const statefulVadNames = {
  audio: 'input',
  state: 'state',
  sampleRate: 'sr',
  prob: 'output',
  nextState: 'stateN',
} as const

/** Deterministic weights in [-scale, scale): a 32-bit LCG, no Math.random. */
function weights(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale
  }
  return out
}

export function buildStatefulVadModel(options: StatefulVadOptions = {}): OnnxModel {
  const samples = options.samples ?? 32
  const width = options.width ?? 128
  const seed = options.seed ?? 7
  const n = statefulVadNames
  const g = new GraphBuilder('stateful_vad')
  const audio = g.input(n.audio, 'float32', ['batch', samples])
  const state = g.input(n.state, 'float32', [2, 'batch', width])
  const sr = g.input(n.sampleRate, 'int64', [])
  const w = (name: string, dims: number[], salt: number, scale: number) =>
    g.initializer(
      name,
      'float32',
      dims,
      weights(
        dims.reduce((a, b) => a * b, 1),
        seed * 31 + salt,
        scale,
      ),
    )
  const wIn = w('w_in', [samples, width], 1, 1 / Math.sqrt(samples))
  const u0 = w('u0', [width, width], 2, 1 / Math.sqrt(width))
  const w1 = w('w1', [width, width], 3, 1 / Math.sqrt(width))
  const u1 = w('u1', [width, width], 4, 1 / Math.sqrt(width))
  const wOut = w('w_out', [width, 1], 5, 1 / Math.sqrt(width))
  // the sample rate scales the chunk's projection (16 kHz is 1.0), so the scalar matters
  const rate = g.op('Div', [g.op('Cast', [sr], { to: 1 }), g.constant([16000])])
  const proj = g.op('Mul', [g.op('MatMul', [audio, wIn]), rate])
  const layer = (index: number) => g.op('Gather', [state, g.constant([index], 'int64', [])], { axis: 0 })
  const h0 = g.op('Tanh', [g.op('Add', [proj, g.op('MatMul', [layer(0), u0])])])
  const h1 = g.op('Tanh', [g.op('Add', [g.op('MatMul', [h0, w1]), g.op('MatMul', [layer(1), u1])])])
  const logit = g.op('Add', [g.op('MatMul', [h1, wOut]), g.constant([-0.25])])
  g.output(g.op('Sigmoid', [logit]), 'float32', ['batch', 1], n.prob)
  const axes0 = g.constant([0], 'int64', [1])
  const next = g.op('Concat', [g.op('Unsqueeze', [h0, axes0]), g.op('Unsqueeze', [h1, axes0])], {
    axis: 0,
  })
  g.output(next, 'float32', [2, 'batch', width], n.nextState)
  return g.build()
}
