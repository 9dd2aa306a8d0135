/**
 * Identity binding: ties a provider's (or requester's) EVM address, which holds stake and
 * signs bids, to its libp2p peer id, which signs gossip and terminates streams.
 *
 * Both directions are signed, so neither key can claim the other alone:
 * - the EVM key signs (EIP-191 `personal_sign`) a statement naming the peer id, and
 * - the peer key signs a statement naming the address.
 * Without the first, anyone could gossip ads for someone else's stake; without the
 * second, a staked address could pin its bids on an unrelated peer. The two statements
 * have different first lines, so one signature can never stand in for the other.
 *
 * Pure crypto, no I/O: anyone holding the pair can verify it.
 */
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { type Address, bytesToHex, getAddress, type Hex, hashMessage, hexToBytes, isHex } from 'viem'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import { recoverDigestSigner } from './recover.js'

export interface IdentityBinding {
  /** libp2p peer id (base58btc); must embed its public key (Ed25519 or secp256k1) */
  peerId: string
  /** EIP-55 checksummed EVM address */
  address: Address
  /** 65-byte EIP-191 signature by `address` over `addressStatement(peerId, address)` */
  addressSignature: Hex
  /** signature by the peer key over `peerStatement(peerId, address)` */
  peerSignature: Hex
}

/** What the EVM key signs. */
export function addressStatement(peerId: string, address: Address): string {
  return `OCN identity binding v1: address signs peer\npeer: ${peerId}\naddress: ${getAddress(address)}`
}

/** What the peer key signs. */
export function peerStatement(peerId: string, address: Address): Uint8Array {
  return new TextEncoder().encode(
    `OCN identity binding v1: peer signs address\naddress: ${getAddress(address)}\npeer: ${peerId}`,
  )
}

/** Anything that signs an EIP-191 message for an address (a viem LocalAccount does). */
export interface MessageSigner {
  address: Address
  signMessage(args: { message: string }): Promise<Hex>
}

/** A libp2p private key (from @libp2p/crypto); typed through peer-id to avoid another dependency. */
export type PeerPrivateKey = Parameters<typeof peerIdFromPrivateKey>[0]

export async function createIdentityBinding(
  account: MessageSigner,
  peerKey: PeerPrivateKey,
): Promise<IdentityBinding> {
  const peerId = peerIdFromPrivateKey(peerKey).toString()
  const address = getAddress(account.address)
  const addressSignature = await account.signMessage({ message: addressStatement(peerId, address) })
  const peerSignature = bytesToHex(await peerKey.sign(peerStatement(peerId, address)))
  return { peerId, address, addressSignature, peerSignature }
}

/**
 * Throws `ProtocolError(INVALID_IDENTITY_BINDING)` unless both signatures verify. Never
 * throws anything else, whatever the input.
 */
export async function assertIdentityBinding(binding: IdentityBinding): Promise<void> {
  const fail = (details: string, cause?: unknown): never => {
    throw new ProtocolError(ProtocolErrorCode.INVALID_IDENTITY_BINDING, 'identity binding does not verify', {
      details,
      ...(cause === undefined ? {} : { cause }),
    })
  }
  let address: Address
  try {
    address = getAddress(binding.address)
  } catch (cause) {
    return fail('address is not an EVM address', cause)
  }
  if (!isHex(binding.addressSignature) || hexToBytes(binding.addressSignature).length !== 65) {
    return fail('address signature must be 65 bytes')
  }
  if (!isHex(binding.peerSignature)) return fail('peer signature is not hex')
  let publicKey: ReturnType<typeof peerIdFromString>['publicKey']
  try {
    publicKey = peerIdFromString(binding.peerId).publicKey
  } catch (cause) {
    return fail('peer id does not parse', cause)
  }
  if (publicKey === undefined) return fail('peer id does not embed its public key (use Ed25519 or secp256k1)')

  let recovered: Address
  try {
    // viem's recoverMessageAddress, with the WebAssembly recovery
    recovered = await recoverDigestSigner(
      hashMessage(addressStatement(binding.peerId, address)),
      binding.addressSignature,
    )
  } catch (cause) {
    return fail('address signature does not recover', cause)
  }
  if (recovered !== address) return fail('address signature was made by another key')

  let peerOk = false
  try {
    peerOk = await publicKey.verify(peerStatement(binding.peerId, address), hexToBytes(binding.peerSignature))
  } catch (cause) {
    return fail('peer signature does not verify', cause)
  }
  if (!peerOk) return fail('peer signature does not verify')
}

export async function verifyIdentityBinding(binding: IdentityBinding): Promise<boolean> {
  try {
    await assertIdentityBinding(binding)
    return true
  } catch {
    return false
  }
}
