import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger, formatPrettyLine } from '../../src/core/logger.js'
import {
  createMetricsFactory,
  createMetricsRegistry,
  MetricNameError,
  renderMetrics,
} from '../../src/metrics/index.js'

function capture(isTTY = false): { stream: Writable & { isTTY?: boolean }; lines: () => string[] } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(chunk.toString())
      callback()
    },
  }) as Writable & { isTTY?: boolean }
  stream.isTTY = isTTY
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== ''),
  }
}

describe('logger', () => {
  it('writes one JSON object per event, bigints as strings, children with bindings', async () => {
    const out = capture()
    const logger = createLogger({ level: 'debug', destination: out.stream })
    logger.child({ component: 'market' }).info({ jobId: '0x01', price: 2n ** 80n }, 'bid sent')
    logger.debug('details')
    logger.trace('hidden')
    await new Promise((resolve) => setImmediate(resolve))
    const records = out.lines().map((line) => JSON.parse(line))
    expect(records).toHaveLength(2)
    expect(records[0]).toMatchObject({
      level: 30,
      name: 'ocn',
      component: 'market',
      price: (2n ** 80n).toString(),
      msg: 'bid sent',
    })
  })

  it('pretty-prints on a terminal in auto format', async () => {
    const out = capture(true)
    createLogger({ destination: out.stream }).warn({ peer: 'abc', note: 'two words' }, 'slow peer')
    await new Promise((resolve) => setImmediate(resolve))
    expect(out.lines()[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}ocn: slow peer peer=abc note="two words"$/)
    expect(formatPrettyLine('not json')).toBe('not json')
  })
})

describe('metrics factory', () => {
  it('prefixes names, enforces suffixes and reuses registered metrics', async () => {
    const registry = createMetricsRegistry({ collectDefaultMetrics: false })
    const metrics = createMetricsFactory(registry)
    const bids = metrics.counter({ name: 'bids_sent_total', help: 'bids', labelNames: ['outcome'] as const })
    bids.inc({ outcome: 'won' })
    expect(metrics.counter({ name: 'bids_sent_total', help: 'bids', labelNames: ['outcome'] as const })).toBe(
      bids,
    )
    metrics.histogram({ name: 'execution_seconds', help: 'run time' }).observe(0.2)
    expect(() => metrics.counter({ name: 'bids_sent', help: 'x' })).toThrow(MetricNameError)
    expect(() => metrics.histogram({ name: 'execution_time', help: 'x' })).toThrow(MetricNameError)
    expect(() => metrics.gauge({ name: 'ocn_peers', help: 'x' })).toThrow(MetricNameError)
    const { body, contentType } = await renderMetrics(registry)
    expect(contentType).toContain('text/plain')
    expect(body).toContain('ocn_bids_sent_total{outcome="won"} 1')
    expect(body).toContain('ocn_execution_seconds_count 1')
  })
})
