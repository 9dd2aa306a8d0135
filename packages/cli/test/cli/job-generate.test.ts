/**
 * What `ocn job submit --generate` prints while the provider streams tokens: each position
 * once, a line per prompt, ids without a vocabulary and text with one (byte-level BPE,
 * SentencePiece, a plain list), and the flag on prompts whose streamed tokens differ.
 */
import { describe, expect, it } from 'vitest'
import { streamedTokensPrinter, tokensText, tokenTextFrom } from '../../src/commands/job-generate.js'

const job = (streamed: number[][]) => ({ detail: { role: 'requester', streamed } })

describe('ocn job submit --generate output', () => {
  it('prints each streamed position once, a line per prompt, and ends an open line before other output', () => {
    let out = ''
    const printer = streamedTokensPrinter((t) => {
      out += t
    })
    printer.onJob(job([[5, 6]]))
    printer.onJob(job([[5, 6, 7], [9]]))
    printer.onJob(job([[5, 6, 7], [9]]))
    printer.breakLine()
    out += 'committed\n'
    printer.onJob(job([[5, 6, 7, 8], [9]]))
    printer.breakLine()
    expect(out).toBe('  prompt 0: 5 6 7 \n  prompt 1: 9 \ncommitted\n  prompt 0: 8 \n')
  })

  it('decodes byte-level BPE (a character split over two tokens), SentencePiece and a plain list', () => {
    // "Ġ" is the space, and é is the bytes c3 a9, written as "Ã" and "©"
    const bpe = tokenTextFrom({ model: { vocab: { Hello: 0, Ġw: 1, orld: 2, Ã: 3, '©': 4 } } })
    expect(bpe.decode(0, [0, 1, 2, 3])).toBe('Hello world')
    expect(bpe.decode(0, [4])).toBe('é')
    const sp = tokenTextFrom({ '▁the': 0, '▁cat': 1 })
    expect(sp.decode(0, [0, 1, 7])).toBe(' the cat<7>')
    expect(tokenTextFrom(['a', 'b']).decode(0, [1, 0])).toBe('ba')
  })

  it('flags the prompts whose streamed tokens differ from the committed ones', () => {
    const text = tokensText({ tokens: [[1], [2]], verified: true, streamMismatches: [1] })
    expect(text).toContain('prompt 1: 2')
    expect(text).toMatch(/streamed for prompt 1 differed .* the committed tokens are the result/)
  })
})
