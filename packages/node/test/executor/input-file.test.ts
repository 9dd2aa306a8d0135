/** The inputs file process workers read their rows from (executor/input-file.ts): no ONNX Runtime. */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { sliceAxis } from '../../src/executor/input-axes.js'
import {
  fileFeedsOf,
  INPUT_FILE_MIN_BYTES,
  readFileFeed,
  sweepOrphanedInputDirs,
  writeInputFile,
} from '../../src/executor/input-file.js'
import type { NamedTensors } from '../../src/executor/tensor.js'
import { f32, lcg } from './helpers.js'

const rows = 4100
const cols = 64 // 4100 x 64 float32: just over 1 MiB
const r = lcg(5)
const inputs: NamedTensors = {
  x: f32([rows, cols], Array.from({ length: rows * cols }, r)),
  // batch on axis 1: its slices are not contiguous, so it stays out of the file
  state: f32([2, rows, 3], Array.from({ length: 2 * rows * 3 }, r)),
  sr: { dtype: 'int64', dims: [], data: new Uint8Array(new BigInt64Array([16000n]).buffer) },
}
const axes = { x: 0, state: 1, sr: 'broadcast' } as const

describe('executor input file', () => {
  it('holds the contiguous inputs; each micro-batch reads back exactly its rows, broadcast inputs whole', async () => {
    const file = (await writeInputFile(inputs, axes))!
    try {
      expect(Object.keys(file.offsets).sort()).toEqual(['sr', 'x'])
      for (const [start, end] of [
        [0, 256],
        [3840, 4100],
      ] as const) {
        const feeds = fileFeedsOf(file, inputs, axes, start, end)
        expect(Object.keys(feeds).sort()).toEqual(['sr', 'x'])
        const x = readFileFeed(feeds.x!)
        const want = sliceAxis(inputs.x!, 0, start, end)
        expect(x.dims).toEqual([end - start, cols])
        expect(Buffer.from(x.data).equals(Buffer.from(want.data))).toBe(true)
        expect(readFileFeed(feeds.sr!)).toEqual(inputs.sr)
      }
    } finally {
      await file.remove()
    }
    expect(existsSync(file.path)).toBe(false)
  })

  it('is not written for small inputs; a range past its end is an error, not zeros', async () => {
    expect(await writeInputFile({ x: f32([2, 2], [1, 2, 3, 4]) }, { x: 0 })).toBeUndefined()
    expect(INPUT_FILE_MIN_BYTES).toBe(1024 * 1024)
    const file = (await writeInputFile(inputs, axes))!
    try {
      const feed = fileFeedsOf(file, inputs, axes, 4000, 4100).x!
      expect(() => readFileFeed({ ...feed, offset: feed.offset + 1024 })).toThrow(
        /ended before the micro-batch/,
      )
      expect(() => readFileFeed({ ...feed, length: feed.length - 4 })).toThrow(
        /does not match its tensor shape/,
      )
    } finally {
      await file.remove()
    }
  })

  it('sweeps the input folders a killed process left behind, and only those', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'ocn-sweep-test-'))
    try {
      // above Linux's largest pid_max (2^22): no process can have it
      const dead = join(parent, 'ocn-inputs-4194399-abc')
      const live = join(parent, `ocn-inputs-${process.ppid}-def`)
      const other = join(parent, 'unrelated-7-ghi')
      for (const dir of [dead, live, other]) await mkdir(dir)
      expect(await sweepOrphanedInputDirs(parent)).toEqual(['ocn-inputs-4194399-abc'])
      expect([existsSync(dead), existsSync(live), existsSync(other)]).toEqual([false, true, true])
    } finally {
      await rm(parent, { recursive: true, force: true })
    }
  })
})
