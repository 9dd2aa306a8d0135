import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  assertIdentityBinding,
  type IdentityBinding,
  ProtocolError,
  verifyIdentityBinding,
} from '../src/index.js'
import { type Identity, makeIdentity } from './fixtures.js'

let alice: Identity
let bob: Identity

beforeAll(async () => {
  alice = await makeIdentity('alice')
  bob = await makeIdentity('bob')
})

describe('identity binding', () => {
  it('verifies a binding made by both keys', async () => {
    expect(await verifyIdentityBinding(alice.binding)).toBe(true)
    expect(alice.binding.address).toBe(alice.account.address)
    expect(alice.binding.peerId).toBe(alice.peerId)
  })

  it('fails when either half belongs to someone else', async () => {
    const mixes: IdentityBinding[] = [
      { ...alice.binding, peerId: bob.peerId },
      { ...alice.binding, address: bob.account.address },
      { ...alice.binding, addressSignature: bob.binding.addressSignature },
      { ...alice.binding, peerSignature: bob.binding.peerSignature },
      // both signatures of bob but claiming alice's peer
      { ...bob.binding, peerId: alice.peerId },
    ]
    for (const binding of mixes) {
      expect(await verifyIdentityBinding(binding)).toBe(false)
      await expect(assertIdentityBinding(binding)).rejects.toBeInstanceOf(ProtocolError)
    }
  })

  it('fails on a flipped bit in either signature', async () => {
    const flip = (hex: `0x${string}`, at: number) => {
      const chars = hex.split('')
      const i = 2 + (at % (hex.length - 2))
      chars[i] = chars[i] === '0' ? '1' : '0'
      return chars.join('') as `0x${string}`
    }
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.boolean(), async (at, which) => {
        const binding = which
          ? { ...alice.binding, addressSignature: flip(alice.binding.addressSignature, at) }
          : { ...alice.binding, peerSignature: flip(alice.binding.peerSignature, at) }
        expect(await verifyIdentityBinding(binding)).toBe(false)
      }),
      { numRuns: 40 },
    )
  })

  it('never throws anything but ProtocolError on garbage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.string(), fc.string(), async (peerId, address, a, p) => {
        try {
          await assertIdentityBinding({
            peerId,
            address: address as `0x${string}`,
            addressSignature: a as `0x${string}`,
            peerSignature: p as `0x${string}`,
          })
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError)
        }
      }),
      { numRuns: 200 },
    )
  })
})
