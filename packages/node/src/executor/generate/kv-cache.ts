/**
 * A decoding loop's KV cache in buffers it reuses: per cache tensor two buffers sized for the
 * whole sequence (prompt plus maxNewTokens), the current one fed as `past_key_values`, the
 * other filled with the current rows plus the step's new ones (kv-graph.ts) and then swapped
 * in. One copy per step and no allocation, where the plain loop had onnxruntime-node allocate
 * and copy the whole cache per step (kv-graph.ts says why that matters).
 *
 * Layout [1, heads, length, headDim]: heads are outermost, so a longer cache moves every
 * head's rows; that is the one copy.
 */
import * as ort from 'onnxruntime-node'
import { ExecutorError } from '../errors.js'
import type { KvStream } from './kv-graph.js'

export class KvCache {
  private readonly buffers: [Float32Array, Float32Array][]
  private readonly current: number[]
  private length = 0

  constructor(
    private readonly streams: readonly KvStream[],
    private readonly heads: number,
    private readonly headDim: number,
    private readonly capacity: number,
  ) {
    const size = heads * capacity * headDim
    this.buffers = streams.map(() => [new Float32Array(size), new Float32Array(size)])
    this.current = streams.map(() => 0)
  }

  /** The cached positions so far. */
  get positions(): number {
    return this.length
  }

  /** The `past_key_values` feeds: the cache so far, [1, heads, positions, headDim]. */
  feeds(): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {}
    const used = this.heads * this.length * this.headDim
    this.streams.forEach((s, k) => {
      const data = this.buffers[k]![this.current[k]!]!.subarray(0, used)
      feeds[s.past] = new ort.Tensor('float32', data, [1, this.heads, this.length, this.headDim])
    })
    return feeds
  }

  /** Appends a step's `rows` new positions, read from each stream's fresh output. */
  append(out: ort.InferenceSession.OnnxValueMapType, rows: number): void {
    const next = this.length + rows
    if (next > this.capacity)
      throw new ExecutorError('EXECUTOR_RUN_FAILED', 'the KV cache grew past the sequence it was sized for', {
        details: `${next} positions > ${this.capacity}`,
      })
    const { heads, headDim } = this
    this.streams.forEach((s, k) => {
      const fresh = out[s.fresh] as ort.Tensor | undefined
      const d = fresh?.dims
      if (!fresh || d?.length !== 4 || d[0] !== 1 || d[1] !== heads || d[2] !== rows || d[3] !== headDim)
        throw new ExecutorError(
          'EXECUTOR_RUN_FAILED',
          `the decoder's new cache rows ${s.fresh} have an unexpected shape`,
          {
            details: `[${d?.join(', ')}], expected [1, ${heads}, ${rows}, ${headDim}]`,
          },
        )
      const rowsData = fresh.data as Float32Array
      const pair = this.buffers[k]!
      const from = pair[this.current[k]!]!
      const to = pair[1 - this.current[k]!]!
      const old = this.length * headDim
      const added = rows * headDim
      for (let h = 0; h < heads; h++) {
        const at = h * (old + added)
        to.set(from.subarray(h * old, h * old + old), at)
        to.set(rowsData.subarray(h * added, h * added + added), at + old)
      }
      this.current[k] = 1 - this.current[k]!
    })
    this.length = next
  }
}
