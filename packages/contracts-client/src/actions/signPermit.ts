import { type Address, type Hex, parseSignature } from 'viem'
import { getChainId, readContract, signTypedData } from 'viem/actions'
import { openTokenAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolWalletClient } from '../types.js'

export interface SignPermitParameters {
  token: Address
  spender: Address
  value: bigint
  deadline: bigint
}

export interface SignPermitReturnType {
  v: number
  r: Hex
  s: Hex
  deadline: bigint
}

/** Signs an ERC-2612 permit of the client's account for the OPEN token. */
export async function signPermit(
  client: ProtocolWalletClient,
  { token, spender, value, deadline }: SignPermitParameters,
): Promise<SignPermitReturnType> {
  const owner = client.account.address
  const [nonce, name, chainId] = await simulate('nonces', () =>
    Promise.all([
      readContract(client, { address: token, abi: openTokenAbi, functionName: 'nonces', args: [owner] }),
      readContract(client, { address: token, abi: openTokenAbi, functionName: 'name' }),
      getChainId(client),
    ]),
  )
  const signature = await signTypedData(client, {
    account: client.account,
    domain: { name, version: '1', chainId, verifyingContract: token },
    types: {
      Permit: [
        { name: 'owner', type: 'address' },
        { name: 'spender', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'nonce', type: 'uint256' },
        { name: 'deadline', type: 'uint256' },
      ],
    },
    primaryType: 'Permit',
    message: { owner, spender, value, nonce, deadline },
  })
  const { r, s, v, yParity } = parseSignature(signature)
  return { r, s, v: v === undefined ? yParity + 27 : Number(v), deadline }
}
