#!/usr/bin/env node
/**
 * Per-message CPU cost of what a node does for one received offer, step by step: decoding,
 * the job id, the EIP-712 digest and recovery (viem's pure-JS path and OCN's), the identity
 * binding, the gossipsub StrictSign check of the publisher's libp2p signature, and the whole
 * validator verdict for a fresh offer and for a duplicate. Every step runs on one core with no
 * I/O, so the figures are microseconds of CPU (medians of --rounds batches).
 *
 * Usage: npm run build && node scripts/bench-gossip-validation.mjs [--iterations 300] [--rounds 5] [--json]
 */
import '@ocn/protocol/polyfill'
import { parseArgs } from 'node:util'
import { generateKeyPair, publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  assertIdentityBinding,
  createIdentityBinding,
  decodeJobOffer,
  encodeJobOffer,
  jobIdOf,
  jobIdOfByViem,
  keccakReady,
  offerDigest,
  offerTypedData,
  recoverDigestSigner,
  recoverOfferSigner,
  recoveryImplementation,
  recoveryReady,
} from '@ocn/protocol'
import { getAddress, hashTypedData, recoverAddress, recoverTypedDataAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { silentLogger } from '../packages/node/dist/core/logger.js'
import { GossipValidator } from '../packages/node/dist/p2p/gossip-validation.js'
import { createP2PMetrics } from '../packages/node/dist/p2p/metrics.js'
import { defaultGossipOptions, OFFERS_TOPIC } from '../packages/node/dist/p2p/options.js'
import { BENCH_DOMAIN, benchOffer } from './lib/bench-offers.mjs'

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
})
const ITERATIONS = Number(args.iterations)
const ROUNDS = Number(args.rounds)
const domain = BENCH_DOMAIN

async function makeRequester() {
  const account = privateKeyToAccount(generatePrivateKey())
  const peerKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(peerKey).toString()
  return { account, peerKey, peerId, binding: await createIdentityBinding(account, peerKey) }
}

async function makeOffers(requester, count) {
  const offers = []
  for (let i = 0; i < count; i++) offers.push(await benchOffer(requester, { salt: BigInt(i + 1) }))
  return offers
}

/** microseconds per call: the median of ROUNDS batches, each over every input once */
async function measure(inputs, step) {
  const perCall = []
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now()
    for (const input of inputs) await step(input)
    perCall.push(((performance.now() - start) * 1000) / inputs.length)
  }
  perCall.sort((a, b) => a - b)
  return Math.round(perCall[Math.floor(perCall.length / 2)] * 10) / 10
}

/** what gossipsub's StrictSign check does per message: key from the peer id, verify the signature */
async function strictSignInputs(requester, payloads) {
  const key = publicKeyToProtobuf(requester.peerKey.publicKey)
  const out = []
  for (const data of payloads) {
    // the signed bytes are 'libp2p-pubsub:' + the RPC message without its signature (~data + 60 bytes)
    const signed = new Uint8Array(data.length + 74)
    signed.set(data, 74)
    out.push({ key, signed, signature: await requester.peerKey.sign(signed) })
  }
  return out
}

function freshValidator() {
  return new GossipValidator({
    options: {
      ...defaultGossipOptions,
      rateLimitPerSecond: 1e9,
      rateLimitBurst: 1e9,
      ignoreBudgetPerSecond: 1e9,
      ignoreBudgetBurst: 1e9,
    },
    now: Date.now,
    log: silentLogger,
    metrics: createP2PMetrics(undefined),
  })
}

async function main() {
  await keccakReady()
  const requester = await makeRequester()
  const offers = await makeOffers(requester, ITERATIONS)
  const payloads = offers.map((offer) => encodeJobOffer(offer))
  const typed = offers.map((offer) => ({
    ...offerTypedData(domain, offer.terms),
    signature: offer.signature,
  }))
  const signed = await strictSignInputs(requester, payloads)
  const digests = typed.map((t) => ({ digest: hashTypedData(t), signature: t.signature }))
  await recoveryReady()
  const costs = {
    recovery: recoveryImplementation(),
    offerBytes: payloads[0].length,
    decodeJobOffer: await measure(payloads, (data) => decodeJobOffer(data)),
    jobIdOfViemHashStruct: await measure(offers, (offer) => jobIdOfByViem(offer.terms)),
    jobIdOf: await measure(offers, (offer) => jobIdOf(offer.terms)),
    hashTypedData: await measure(typed, (t) => hashTypedData(t)),
    viemRecoverTypedDataAddress: await measure(typed, (t) => recoverTypedDataAddress(t)),
    ocnRecoverOfferSigner: await measure(offers, (o) => recoverOfferSigner(domain, o.terms, o.signature)),
    viemRecoverDigest: await measure(digests, ({ digest, signature }) =>
      recoverAddress({ hash: digest, signature }),
    ),
    ocnRecoverDigest: await measure(digests, ({ digest, signature }) =>
      recoverDigestSigner(digest, signature),
    ),
    offerDigestGivenJobId: await measure(offers, (o) => offerDigest(domain, o.terms, jobIdOf(o.terms))),
    getAddress: await measure(offers, (offer) => getAddress(offer.terms.requester)),
    identityBindingUncached: await measure(offers.slice(0, 50), (o) =>
      assertIdentityBinding(o.requesterBinding),
    ),
    strictSignEd25519Verify: await measure(signed, async ({ key, signed: bytes, signature }) => {
      if (!(await publicKeyFromProtobuf(key).verify(bytes, signature))) throw new Error('bad signature')
    }),
  }
  // the whole verdict: every round a fresh validator (binding verified once, then cached)
  let validator
  costs.validateFreshOffer = await measure(payloads, async (data) => {
    if (data === payloads[0]) validator = freshValidator()
    const result = await validator.validate(OFFERS_TOPIC, requester.peerId, data)
    if (result.verdict !== 'accept') throw new Error(`not accepted: ${result.reason}`)
  })
  costs.validateDuplicate = await measure(payloads, async (data) => {
    const result = await validator.validate(OFFERS_TOPIC, requester.peerId, data, 'relay')
    if (result.reason !== 'duplicate') throw new Error(`expected a duplicate, got ${result.reason}`)
  })
  if (args.json) console.log(JSON.stringify({ unit: 'µs per message', iterations: ITERATIONS, ...costs }))
  else for (const [step, value] of Object.entries(costs)) console.log(`${step.padEnd(30)} ${value}`)
}

await main()
