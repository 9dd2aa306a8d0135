import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  createProgressBar,
  createProgressBoard,
  createStageProgress,
  renderProgressLine,
} from '../../src/progress.js'

function stream(isTTY: boolean): Writable & { isTTY: boolean; columns: number; text: () => string } {
  const chunks: string[] = []
  const out = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(chunk.toString())
      callback()
    },
  }) as Writable & { isTTY: boolean; columns: number; text: () => string }
  out.isTTY = isTTY
  out.columns = 80
  out.text = () => chunks.join('')
  return out
}

describe('progress bar', () => {
  it('renders a bar with percent and counts', () => {
    expect(renderProgressLine('upload', 512, 1024, 80, 'bytes')).toBe(
      `upload [${'#'.repeat(20)}${'-'.repeat(20)}]  50% 512 B/1.0 KiB`,
    )
    expect(renderProgressLine('bids', 3, undefined, 80)).toBe('bids 3')
  })

  it('redraws one line on a terminal', () => {
    const out = stream(true)
    const bar = createProgressBar({ stream: out, label: 'samples', total: 4, redrawIntervalMs: 0 })
    bar.increment()
    bar.increment()
    bar.finish()
    const text = out.text()
    expect(text.startsWith('\r')).toBe(true)
    expect(text).toContain(' 50% 2/4')
    expect(text.endsWith(`100% 4/4 done\x1b[K\n`)).toBe(true)
    expect(text.split('\n')).toHaveLength(2)
  })

  it('prints only a final line when not on a terminal, and nothing when silent', () => {
    const plain = stream(false)
    const bar = createProgressBar({ stream: plain, label: 'verify', total: 10 })
    bar.update(7)
    bar.fail('challenged')
    bar.finish()
    expect(plain.text()).toBe(`verify [${'#'.repeat(28)}${'-'.repeat(12)}]  70% 7/10 challenged\n`)

    const silent = stream(true)
    const quiet = createProgressBar({ stream: silent, label: 'x', total: 1, silent: true })
    quiet.update(1)
    quiet.finish()
    expect(silent.text()).toBe('')
  })
})

describe('progress board', () => {
  it('draws a bar per piece of work and prints one line each when not a terminal', () => {
    const out = stream(false)
    const board = createProgressBoard({ stream: out })
    board.update({ stage: 'transfer', label: 'model', unit: 'bytes', done: 0, total: 2048 })
    board.update({
      stage: 'transfer',
      label: 'model',
      unit: 'bytes',
      done: 2048,
      total: 2048,
      finished: true,
    })
    board.update({ stage: 'execution', unit: 'micro-batches', done: 2, total: 4 })
    board.update({ stage: 'execution', unit: 'micro-batches', done: 4, total: 4, finished: true })
    board.update({ stage: 'verification', unit: 'replays', done: 1, total: 3 })
    board.close('job ended')
    expect(out.text().split('\n').filter(Boolean)).toEqual([
      `transfer model [${'#'.repeat(36)}] 100% 2.0 KiB/2.0 KiB done`,
      `execution [${'#'.repeat(40)}] 100% 4 micro-batches/4 micro-batches done`,
      `verification [${'#'.repeat(13)}${'-'.repeat(25)}]  33% 1 replays/3 replays job ended`,
    ])
  })

  it('redraws on a terminal and prints nothing with --json', () => {
    const tty = stream(true)
    const board = createProgressBoard({ stream: tty })
    board.update({ stage: 'execution', unit: 'tokens', done: 1, total: 8 })
    board.update({ stage: 'execution', unit: 'tokens', done: 8, total: 8, finished: true })
    expect(tty.text()).toContain('\r')
    expect(tty.text().endsWith('done\x1b[K\n')).toBe(true)
    const quiet = stream(false)
    const silent = createProgressBoard({ stream: quiet, silent: true })
    silent.update({ stage: 'execution', unit: 'tokens', done: 8, total: 8, finished: true })
    expect(quiet.text()).toBe('')
  })

  it('shows staged work (a circuit build) as one redrawn bar on a terminal, a numbered line per event elsewhere', () => {
    const stages = ['compile', 'ptau', 'setup']
    const tty = stream(true)
    const bar = createStageProgress({ stream: tty, label: 'zk build', stages })
    bar.update('compile', 'circom')
    bar.update('ptau', 'contribution 1 of 1 '.repeat(10))
    bar.finish()
    const lines = tty.text().split('\r').filter(Boolean)
    expect(lines[0]!.endsWith('\x1b[K')).toBe(true)
    expect(lines[0]!.slice(0, -3)).toMatch(
      /^zk build compile \[#+-+\]\s+33% 1 stages\/3 stages circom \(\d+\.\d s\)$/,
    )
    // a long message is cut to the terminal's width, and the last line is left standing
    expect(lines[1]!.replace('\x1b[K\n', '')).toHaveLength(80)
    expect(tty.text().endsWith('\n')).toBe(true)
    const log = stream(false)
    const lined = createStageProgress({ stream: log, label: 'zk build', stages })
    lined.update('compile', 'circom')
    lined.update('setup', 'zkey')
    lined.finish()
    expect(
      log
        .text()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/\(\d+\.\d s\)/, '(t)')),
    ).toEqual(['[1/3] compile: circom (t)', '[3/3] setup: zkey (t)'])
    const quiet = stream(true)
    createStageProgress({ stream: quiet, label: 'zk build', stages, silent: true }).update('compile', 'x')
    expect(quiet.text()).toBe('')
  })
})
