/**
 * Identity bindings already verified, by all four fields. A binding is the same in every
 * message of a peer, and verifying it costs an ECDSA recovery and an Ed25519 verify
 * (~0.45 ms): the gossip validator (requester and provider bindings in offers and ads) and
 * the bid protocol (a provider's binding in each of its bids) verify each one once.
 * Verification is a pure function of the four fields, so a hit is the same verdict; only
 * successes are remembered, so a forgery costs its verification every time it is tried
 * (and the rate limits bound how often that is).
 */
import { assertIdentityBinding, type IdentityBinding } from '@ocn/protocol'
import { BoundedSet } from '../core/collections.js'

export class VerifiedBindings {
  private readonly verified: BoundedSet<string>

  constructor(capacity: number) {
    this.verified = new BoundedSet<string>(capacity)
  }

  /** throws `ProtocolError(INVALID_IDENTITY_BINDING)` unless the binding verifies */
  async check(binding: IdentityBinding): Promise<void> {
    const key = `${binding.peerId}|${binding.address}|${binding.addressSignature}|${binding.peerSignature}`
    if (this.verified.has(key)) return
    await assertIdentityBinding(binding)
    this.verified.add(key)
  }

  /** bindings remembered (bounded by the capacity) */
  get size(): number {
    return this.verified.size
  }
}
