/**
 * Gossipsub's fast message id (host.ts): a copy byte for byte like one already verified is a
 * duplicate before its signature is checked again, and any difference in any field, the
 * signature included, makes it a new message that is verified as before. That the host hands
 * it to gossipsub is checked in gossip.test.ts (it needs sockets).
 */
import { randomBytes } from 'node:crypto'
import { contentHashOf } from '@ocn/protocol'
import { describe, expect, it } from 'vitest'
import { fastMessageId, messageId, type RawGossipMessage } from '../../src/p2p/host.js'
import { OFFERS_TOPIC } from '../../src/p2p/index.js'

const message = (): Required<RawGossipMessage> => ({
  topic: OFFERS_TOPIC,
  from: randomBytes(38),
  seqno: randomBytes(8),
  data: randomBytes(800),
  signature: randomBytes(64),
  key: randomBytes(36),
})

describe('fastMessageId', () => {
  it('is the same for a byte-identical copy', () => {
    const original = message()
    const copy = {
      ...original,
      data: Uint8Array.from(original.data),
      signature: Uint8Array.from(original.signature),
    }
    expect(fastMessageId(copy)).toBe(fastMessageId(original))
  })

  it('differs when any one field differs, the signature included, or is absent', () => {
    const original = message()
    const seen = new Set([fastMessageId(original)])
    for (const field of ['from', 'seqno', 'data', 'signature', 'key'] as const) {
      const flipped = Uint8Array.from(original[field])
      flipped[0] = (flipped[0] as number) ^ 1
      seen.add(fastMessageId({ ...original, [field]: flipped }))
      const { [field]: _dropped, ...without } = original
      seen.add(fastMessageId(without))
    }
    seen.add(fastMessageId({ ...original, topic: '/ocn/capabilities/1' }))
    expect(seen.size).toBe(12)
  })

  it('tells field boundaries apart (a byte moved from one field to the next)', () => {
    const original = message()
    const moved = {
      ...original,
      seqno: Uint8Array.of(...original.seqno, original.data[0] as number),
      data: original.data.subarray(1),
    }
    expect(fastMessageId(moved)).not.toBe(fastMessageId(original))
  })

  it('leaves the message id as it was: the SHA-256 of the payload (contentHashOf)', () => {
    for (const size of [0, 1, 809, 20_000]) {
      const data = randomBytes(size)
      expect(`0x${Buffer.from(messageId({ data })).toString('hex')}`).toBe(contentHashOf(data))
    }
  })
})
