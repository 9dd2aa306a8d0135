/**
 * The gossip validator's verdict for each kind of message, called directly on a real
 * host (no network needed), with metrics going to a real prom-client registry.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  encodeCapabilityAd,
  encodeJobOffer,
  keccakImplementation,
  MessageSizeLimit,
  recoveryImplementation,
} from '@ocn/protocol'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createArtifactStore } from '../../src/artifacts/index.js'
import { silentLogger } from '../../src/core/logger.js'
import { CAPABILITIES_TOPIC, createNetwork, type Network, OFFERS_TOPIC } from '../../src/p2p/index.js'
import { capabilityAd, domain, type Identity, makeIdentity, signedOffer } from './helpers.js'

let node: Network
let dir: string
let author: Identity
let stranger: Identity
const registry = new Registry()
let clock = Date.now()

beforeAll(async () => {
  author = await makeIdentity()
  stranger = await makeIdentity()
  dir = await mkdtemp(join(tmpdir(), 'ocn-validation-'))
  const store = createArtifactStore({ directory: dir }, { logger: silentLogger })
  await store.start()
  node = await createNetwork(
    {
      host: { dht: false },
      gossip: {
        chainId: domain.chainId,
        market: domain.verifyingContract,
        rateLimitBurst: 30,
        rateLimitPerSecond: 1,
      },
    },
    { logger: silentLogger, store, registry, now: () => clock },
  )
  await node.start()
})

afterAll(async () => {
  await node.stop()
  await rm(dir, { recursive: true, force: true })
})

const validateOffer = (from: string | undefined, data: Uint8Array) =>
  node.gossip.validate(OFFERS_TOPIC, from, data)

describe('gossip validation verdicts', () => {
  it('has the WebAssembly recovery and keccak ready once started, before any offer arrives', () => {
    // the node started in beforeAll and has validated nothing yet
    expect(recoveryImplementation()).toBe('wasm')
    expect(keccakImplementation()).toBe('wasm')
  })

  it('accepts a valid offer once, then ignores the duplicate', async () => {
    const data = encodeJobOffer(await signedOffer(author))
    expect(await validateOffer(author.peerId, data)).toEqual({ verdict: 'accept', reason: 'valid' })
    expect(await validateOffer(author.peerId, data)).toEqual({ verdict: 'ignore', reason: 'duplicate' })
  })

  it('rejects what is provably bad', async () => {
    const nowSeconds = BigInt(Math.floor(clock / 1000))
    const cases: [string | undefined, Uint8Array, string][] = [
      [author.peerId, randomBytes(MessageSizeLimit.jobOffer + 1), 'too-large'],
      [undefined, encodeJobOffer(await signedOffer(author)), 'unsigned'],
      [author.peerId, randomBytes(100), 'MALFORMED_ENCODING'],
      // published by another peer than the requester it names
      [stranger.peerId, encodeJobOffer(await signedOffer(author)), 'publisher-mismatch'],
      [
        author.peerId,
        encodeJobOffer(
          await signedOffer(author, { biddingEnds: nowSeconds - 120n, deadline: nowSeconds + 60n }),
        ),
        'expired',
      ],
      [
        author.peerId,
        encodeJobOffer(
          await signedOffer(author, { biddingEnds: nowSeconds + 90_000n, deadline: nowSeconds + 99_000n }),
        ),
        'too-far-ahead',
      ],
      [author.peerId, encodeJobOffer(await signedOffer(author, {}, stranger.account)), 'INVALID_SIGNATURE'],
      [
        author.peerId,
        encodeJobOffer({ ...(await signedOffer(author)), requesterBinding: stranger.binding }),
        'INVALID_IDENTITY_BINDING',
      ],
    ]
    for (const [from, data, reason] of cases) {
      expect(await validateOffer(from, data)).toEqual({ verdict: 'reject', reason })
    }
  })

  it('ignores offers for another market', async () => {
    const offer = await signedOffer(author)
    const data = encodeJobOffer({ ...offer, chainId: 1 })
    expect(await validateOffer(author.peerId, data)).toEqual({ verdict: 'ignore', reason: 'other-chain' })
  })

  it('ignores a publisher over its rate limit, until tokens refill', async () => {
    const flooder = await makeIdentity()
    const verdicts: string[] = []
    for (let i = 0; i < 35; i++) {
      verdicts.push((await validateOffer(flooder.peerId, randomBytes(10))).reason)
    }
    expect(verdicts.filter((r) => r === 'rate-limited').length).toBe(5)
    clock += 10_000
    expect((await validateOffer(flooder.peerId, randomBytes(10))).reason).not.toBe('rate-limited')
  })

  it('capability ads: accept, ignore stale, reject expired and forged', async () => {
    const validateAd = (from: string, data: Uint8Array) =>
      node.gossip.validate(CAPABILITIES_TOPIC, from, data)
    const ad = {
      ...capabilityAd(author),
      issuedAt: Math.floor(clock / 1000),
      expiresAt: Math.floor(clock / 1000) + 600,
    }
    expect((await validateAd(author.peerId, encodeCapabilityAd(ad))).verdict).toBe('accept')
    expect(await validateAd(author.peerId, encodeCapabilityAd(ad))).toEqual({
      verdict: 'ignore',
      reason: 'stale',
    })
    const old = { ...ad, issuedAt: ad.issuedAt - 2000, expiresAt: ad.issuedAt - 1000 }
    expect(await validateAd(author.peerId, encodeCapabilityAd(old))).toEqual({
      verdict: 'reject',
      reason: 'expired',
    })
    const forged = { ...ad, issuedAt: ad.issuedAt + 1, providerBinding: stranger.binding }
    expect(await validateAd(author.peerId, encodeCapabilityAd(forged))).toEqual({
      verdict: 'reject',
      reason: 'INVALID_IDENTITY_BINDING',
    })
    expect(node.gossip.capabilityAds().map((a) => a.providerPeerId)).toEqual([author.peerId])
  })

  it('counts verdicts in the injected registry', async () => {
    const metrics = await registry.getMetricsAsJSON()
    const validations = metrics.find((m) => m.name === 'ocn_gossip_validations_total')
    expect(validations).toBeDefined()
    expect(validations?.values.length).toBeGreaterThan(0)
  })
})
