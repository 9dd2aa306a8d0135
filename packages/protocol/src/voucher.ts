/**
 * EIP-712 vouchers of payment channels.
 *
 * A voucher carries the *cumulative* amount a requester owes a provider on one channel, so
 * the newest voucher supersedes all older ones and losing a message never loses money. The
 * PaymentChannels contract hashes exactly this struct (`Voucher(bytes32 channelId,uint256
 * cumulativeAmount)`) under the domain below.
 */
import { type Address, type Hex, hashTypedData, isAddressEqual, isHex } from 'viem'
import { ProtocolError, ProtocolErrorCode } from './errors.js'
import { recoverDigestSigner } from './recover.js'

export const CHANNELS_DOMAIN_NAME = 'OCN PaymentChannels'
export const CHANNELS_DOMAIN_VERSION = '1'

export const voucherTypes = {
  Voucher: [
    { name: 'channelId', type: 'bytes32' },
    { name: 'cumulativeAmount', type: 'uint256' },
  ],
} as const

export interface Voucher {
  channelId: Hex
  /** everything owed on the channel so far, in OPEN wei (not the price of one request) */
  cumulativeAmount: bigint
}

export interface SignedVoucher extends Voucher {
  signature: Hex
}

export interface ChannelsDomain {
  chainId: number
  /** the PaymentChannels contract */
  verifyingContract: Address
}

export function channelsDomain({ chainId, verifyingContract }: ChannelsDomain) {
  return {
    name: CHANNELS_DOMAIN_NAME,
    version: CHANNELS_DOMAIN_VERSION,
    chainId,
    verifyingContract,
  } as const
}

export function voucherTypedData(domain: ChannelsDomain, voucher: Voucher) {
  return {
    domain: channelsDomain(domain),
    types: voucherTypes,
    primaryType: 'Voucher',
    message: { channelId: voucher.channelId, cumulativeAmount: voucher.cumulativeAmount },
  } as const
}

/** The digest the contract checks the requester's signature against. */
export function voucherDigest(domain: ChannelsDomain, voucher: Voucher): Hex {
  return hashTypedData(voucherTypedData(domain, voucher))
}

/** Anything that signs EIP-712 data: a viem LocalAccount, or a wallet client bound to one. */
export interface VoucherSigner {
  signTypedData: (typedData: ReturnType<typeof voucherTypedData>) => Promise<Hex>
}

export async function signVoucher(
  signer: VoucherSigner,
  domain: ChannelsDomain,
  voucher: Voucher,
): Promise<SignedVoucher> {
  checkVoucherShape(voucher)
  const signature = await signer.signTypedData(voucherTypedData(domain, voucher))
  return { channelId: voucher.channelId, cumulativeAmount: voucher.cumulativeAmount, signature }
}

export async function recoverVoucherSigner(domain: ChannelsDomain, voucher: SignedVoucher): Promise<Address> {
  return recoverDigestSigner(hashTypedData(voucherTypedData(domain, voucher)), voucher.signature)
}

/**
 * Checks that `voucher` is well-formed and signed by `requester`; throws a ProtocolError
 * (INVALID_VALUE or INVALID_SIGNATURE) otherwise. Whether the amount is acceptable (newer
 * than the last one, within the deposit) is the caller's business: it needs channel state.
 */
export async function verifyVoucher(
  domain: ChannelsDomain,
  voucher: SignedVoucher,
  requester: Address,
): Promise<void> {
  checkVoucherShape(voucher)
  if (!isHex(voucher.signature) || voucher.signature.length !== 132) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_VALUE, 'voucher signature is not 65 bytes of hex')
  }
  let signer: Address
  try {
    signer = await recoverVoucherSigner(domain, voucher)
  } catch (err) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_SIGNATURE, 'voucher signature does not recover', {
      cause: err,
    })
  }
  if (!isAddressEqual(signer, requester)) {
    throw new ProtocolError(
      ProtocolErrorCode.INVALID_SIGNATURE,
      'voucher is not signed by the channel requester',
      {
        details: `recovered ${signer}, expected ${requester}`,
      },
    )
  }
}

const MAX_UINT256 = (1n << 256n) - 1n

function checkVoucherShape(voucher: Voucher): void {
  if (!isHex(voucher.channelId) || voucher.channelId.length !== 66) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_VALUE, 'voucher channelId is not 32 bytes of hex')
  }
  if (typeof voucher.cumulativeAmount !== 'bigint' || voucher.cumulativeAmount < 0n) {
    throw new ProtocolError(
      ProtocolErrorCode.INVALID_VALUE,
      'voucher cumulativeAmount is not a non-negative integer',
    )
  }
  if (voucher.cumulativeAmount > MAX_UINT256) {
    throw new ProtocolError(ProtocolErrorCode.INVALID_VALUE, 'voucher cumulativeAmount exceeds uint256')
  }
}
