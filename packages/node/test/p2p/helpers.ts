import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  type CapabilityAd,
  contentHashOf,
  createIdentityBinding,
  type IdentityBinding,
  type JobOffer,
  type MarketDomain,
  type OfferTerms,
  offerTypedData,
} from '@ocn/protocol'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { type ArtifactStore, createArtifactStore } from '../../src/artifacts/index.js'
import { silentLogger } from '../../src/core/logger.js'
import { createNetwork, type Network, type NetworkInit } from '../../src/p2p/index.js'

export const domain: MarketDomain = {
  chainId: 31337,
  verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
}

export interface Identity {
  account: PrivateKeyAccount
  privateKey: PrivateKey
  peerId: string
  binding: IdentityBinding
}

export async function makeIdentity(): Promise<Identity> {
  const account = privateKeyToAccount(generatePrivateKey())
  const privateKey = await generateKeyPair('Ed25519')
  const binding = await createIdentityBinding(account, privateKey)
  return { account, privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), binding }
}

export interface TestNode extends Network {
  identity: Identity
  store: ArtifactStore
  storeDir: string
}

export async function startNode(init: NetworkInit = {}): Promise<TestNode> {
  const identity = await makeIdentity()
  const storeDir = await mkdtemp(join(tmpdir(), 'ocn-p2p-'))
  const store = createArtifactStore({ directory: storeDir }, { logger: silentLogger })
  await store.start()
  const network = await createNetwork(
    {
      ...init,
      host: {
        dht: false,
        ...init.host,
        privateKey: identity.privateKey,
        gossip: { ipColocationWhitelist: ['127.0.0.1'], ...init.host?.gossip },
      },
    },
    { logger: silentLogger, store },
  )
  await network.start()
  return Object.assign(network, { identity, store, storeDir })
}

export async function stopNodes(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      await node.stop().catch(() => {})
      await node.store.stop()
      await rm(node.storeDir, { recursive: true, force: true })
    }),
  )
}

export async function connect(a: TestNode, b: TestNode): Promise<void> {
  await a.host.dial(b.host.getMultiaddrs()[0]!)
}

/**
 * Counts the bytes `node` receives on `protocol`: `arrival(n)` resolves once n bytes have
 * arrived in all (event-driven, so a message-by-message loop waits no polling interval) and
 * fails after 5 s; `received()` is the count so far.
 */
export function byteSink(node: TestNode, protocol: string) {
  let received = 0
  let arrived = () => {}
  node.host.handle(protocol, (stream: Stream) => {
    stream.addEventListener('message', (event) => {
      received += (event as Event & { data: { byteLength: number } }).data.byteLength
      arrived()
    })
  })
  const arrival = (bytes: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received} of ${bytes} bytes arrived`)), 5_000)
      arrived = () => {
        if (received < bytes) return
        clearTimeout(timer)
        resolve()
      }
      arrived()
    })
  return { arrival, received: () => received }
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

let salt = 1n

export async function signedOffer(
  requester: Identity,
  overrides: Partial<OfferTerms> = {},
  signer: PrivateKeyAccount = requester.account,
): Promise<JobOffer> {
  const nowSeconds = BigInt(Math.floor(Date.now() / 1000))
  const spec = new TextEncoder().encode('{"outputs":["y"]}')
  const terms: OfferTerms = {
    requester: requester.account.address,
    modelHash: contentHashOf(new TextEncoder().encode('model')),
    inputHash: contentHashOf(new TextEncoder().encode('input')),
    specHash: contentHashOf(spec),
    kind: 0,
    verification: 0,
    maxPrice: 10n ** 18n,
    minCollateral: 10n ** 17n,
    biddingEnds: nowSeconds + 600n,
    deadline: nowSeconds + 3600n,
    sampleCount: 100,
    microBatchSize: 10,
    salt: salt++,
    ...overrides,
  }
  return {
    version: 1,
    chainId: domain.chainId,
    market: domain.verifyingContract,
    terms,
    requesterPeerId: requester.peerId,
    requesterBinding: requester.binding,
    signature: await signer.signTypedData(offerTypedData(domain, terms)),
    modelBytes: 5,
    inputBytes: 5,
    spec,
  }
}

export function capabilityAd(provider: Identity): CapabilityAd {
  const now = Math.floor(Date.now() / 1000)
  return {
    version: 1,
    providerPeerId: provider.peerId,
    provider: provider.account.address,
    providerBinding: provider.binding,
    device: { kind: 'cpu', name: 'test cpu', memoryBytes: 8 * 2 ** 30 },
    executionProviders: ['CPUExecutionProvider'],
    cores: 2,
    modelsCached: [],
    pricePerUnit: 1000n,
    freeSlots: 1,
    issuedAt: now,
    expiresAt: now + 600,
  }
}
