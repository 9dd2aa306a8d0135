/**
 * The API's JSON (api/http.ts apiJson): what every answer and event goes through. A sealed
 * court commitment's salt never leaves the node, so neither a client nor the console page can
 * learn a challenge's leaf or a juror's vote before the node reveals it.
 */
import { describe, expect, it } from 'vitest'
import { apiJson } from '../../src/api/http.js'

describe('apiJson', () => {
  it("leaves out a challenge's and each vote's salt, and writes bigints as decimal strings", () => {
    const salt = `0x${'5a'.repeat(32)}`
    const record = {
      id: '0xaa',
      role: 'verifier',
      detail: {
        challenge: { index: 3, replayed: '0x01', salt, disputeId: 7n },
        votes: [{ disputeId: 7n, round: 0n, choice: 1, salt, reason: 'mismatch', committed: true }],
      },
    }
    const text = apiJson(record)
    expect(text).not.toContain('salt')
    expect(text).not.toContain('5a5a')
    expect(JSON.parse(text)).toEqual({
      id: '0xaa',
      role: 'verifier',
      detail: {
        challenge: { index: 3, replayed: '0x01', disputeId: '7' },
        votes: [{ disputeId: '7', round: '0', choice: 1, reason: 'mismatch', committed: true }],
      },
    })
  })
})
