/**
 * The identity-binding cache shared by gossip validation and the bid protocol: a binding
 * that verified once is not verified again, a forgery is refused every time, and a binding
 * that differs from a remembered one in any field is verified afresh.
 */
import { ProtocolError, ProtocolErrorCode } from '@ocn/protocol'
import { describe, expect, it } from 'vitest'
import { VerifiedBindings } from '../../src/p2p/verified-bindings.js'
import { makeIdentity } from './helpers.js'

async function refusal(promise: Promise<void>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (error: unknown) => (error instanceof ProtocolError ? error.code : String(error)),
  )
}

describe('VerifiedBindings', () => {
  it('remembers a binding that verified, and only that', async () => {
    const [a, b] = [await makeIdentity(), await makeIdentity()]
    const bindings = new VerifiedBindings(2)
    await bindings.check(a.binding)
    await bindings.check(a.binding)
    expect(bindings.size).toBe(1)
    // another peer's signature under a's binding: not a cache hit, and refused
    const forged = { ...a.binding, peerSignature: b.binding.peerSignature }
    for (let i = 0; i < 2; i++) {
      expect(await refusal(bindings.check(forged))).toBe(ProtocolErrorCode.INVALID_IDENTITY_BINDING)
    }
    const swapped = { ...a.binding, addressSignature: b.binding.addressSignature }
    expect(await refusal(bindings.check(swapped))).toBe(ProtocolErrorCode.INVALID_IDENTITY_BINDING)
    expect(bindings.size).toBe(1)
    await bindings.check(b.binding)
    expect(bindings.size).toBe(2)
  })

  it('stays within its capacity', async () => {
    const bindings = new VerifiedBindings(2)
    for (let i = 0; i < 4; i++) await bindings.check((await makeIdentity()).binding)
    expect(bindings.size).toBe(2)
  })
})
