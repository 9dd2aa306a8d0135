/**
 * The viem client the chain service signs and reads with, and the check that the RPC
 * endpoint serves the chain the deployment belongs to.
 */
import type { Deployment } from '@ocn/contracts-client'
import {
  createWalletClient,
  defineChain,
  http,
  type PublicActions,
  publicActions,
  type Transport,
  type WalletClient,
  webSocket,
} from 'viem'
import type { Account } from 'viem/accounts'
import { getChainId } from 'viem/actions'
import { ChainServiceError } from './errors.js'
import { createRpcFetch } from './http-fetch.js'

export type OcnChainClient = WalletClient<Transport, ReturnType<typeof defineChain>, Account> & PublicActions

/** The largest JSON-RPC response a node takes (an eth_getLogs over a busy range is the big one). */
export const MAX_RPC_RESPONSE_BYTES = 128 * 1024 * 1024

export function createRpcTransport(rpcUrl: string, rpcTimeoutMs: number): Transport {
  return /^wss?:/.test(rpcUrl)
    ? webSocket(rpcUrl, { timeout: rpcTimeoutMs })
    : http(rpcUrl, {
        timeout: rpcTimeoutMs,
        retryCount: 2,
        // node:http with keep-alive: a fraction of the global fetch's CPU per request (http-fetch.ts)
        fetchFn: createRpcFetch({ maxResponseBytes: MAX_RPC_RESPONSE_BYTES }),
      })
}

export function createChainClient(
  rpcUrl: string,
  account: Account,
  deployment: Deployment,
  transport: Transport,
): OcnChainClient {
  const chain = defineChain({
    id: deployment.chainId,
    name: `ocn-${deployment.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  return createWalletClient({ account, chain, transport, pollingInterval: 250 }).extend(
    publicActions,
  ) as unknown as OcnChainClient
}

/**
 * The endpoint's chain id; throws CHAIN_UNREACHABLE when the endpoint does not answer and
 * CHAIN_DEPLOYMENT_MISMATCH when it serves another chain than the deployment's.
 */
export async function checkServesDeployment(
  client: OcnChainClient,
  rpcUrl: string,
  deployment: Deployment,
): Promise<number> {
  let chainId: number
  try {
    chainId = await getChainId(client)
  } catch (cause) {
    throw new ChainServiceError('CHAIN_UNREACHABLE', `the RPC endpoint ${rpcUrl} does not answer`, {
      cause,
      details: 'start the chain (or `ocn devnet`), or fix chain.rpcUrl',
    })
  }
  if (chainId !== deployment.chainId) {
    throw new ChainServiceError('CHAIN_DEPLOYMENT_MISMATCH', 'the deployment belongs to another chain', {
      details: `deployment chain id ${deployment.chainId}, RPC endpoint chain id ${chainId}`,
    })
  }
  return chainId
}
