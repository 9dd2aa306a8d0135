import { decode as cborDecode, encode as cborEncode } from 'cborg'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  decodeMessage,
  encodeMessage,
  jobIdOf,
  MessageSizeLimit,
  type MessageType,
  ProtocolError,
  ProtocolErrorCode,
} from '../src/index.js'
import { type Identity, makeAd, makeBid, makeIdentity, makeOffer } from './fixtures.js'

let requester: Identity
let provider: Identity
const samples: { type: MessageType; message: unknown }[] = []

beforeAll(async () => {
  requester = await makeIdentity('requester')
  provider = await makeIdentity('provider')
  const offer = await makeOffer(requester)
  const jobId = jobIdOf(offer.terms)
  samples.push(
    { type: 'jobOffer', message: offer },
    { type: 'bid', message: await makeBid(provider, offer) },
    { type: 'capabilityAd', message: makeAd(provider) },
    {
      type: 'resultNotice',
      message: {
        version: 1,
        jobId,
        providerPeerId: provider.peerId,
        resultRoot: jobId,
        leafCount: 100,
        outputHash: offer.terms.inputHash,
      },
    },
    { type: 'bidReceipt', message: { version: 1, jobId, accepted: false, reason: 'price-too-high' } },
    { type: 'resultRequest', message: { version: 1, jobId, indices: [0, 5, 99] } },
    {
      type: 'resultResponse',
      message: {
        version: 1,
        jobId,
        status: 'ok',
        result: {
          resultRoot: jobId,
          leafCount: 2,
          outputHash: jobId,
          leaves: [{ index: 1, dataHash: jobId, proof: [jobId] }],
        },
      },
    },
    { type: 'artifactRequest', message: { version: 1, hash: offer.terms.modelHash } },
    { type: 'artifactResponse', message: { version: 1, status: 'ok', size: 64 * 2 ** 20 } },
  )
})

function expectProtocolError(fn: () => unknown, code?: string): void {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError)
    if (code !== undefined) expect((error as ProtocolError).code).toBe(code)
    return
  }
  throw new Error('expected a ProtocolError')
}

describe('codec', () => {
  it('round-trips every message type and encodes deterministically', () => {
    for (const { type, message } of samples) {
      const bytes = encodeMessage(type, message as never)
      expect(bytes.length).toBeLessThanOrEqual(MessageSizeLimit[type])
      expect(decodeMessage(type, bytes)).toEqual(message)
      expect(encodeMessage(type, decodeMessage(type, bytes))).toEqual(bytes)
    }
  })

  it('keeps uint256 values beyond 64 bits exact', () => {
    const offer = samples[0]!.message as { terms: { salt: bigint } }
    const decoded = decodeMessage('jobOffer', encodeMessage('jobOffer', offer as never))
    expect(decoded.terms.salt).toBe(2n ** 200n + 7n)
  })

  it('refuses oversized input before decoding', () => {
    const big = new Uint8Array(MessageSizeLimit.bid + 1)
    expectProtocolError(() => decodeMessage('bid', big), ProtocolErrorCode.MESSAGE_TOO_LARGE)
  })

  it('refuses non-canonical encodings of a valid message', () => {
    const { message } = samples[4]!
    const canonical = encodeMessage('bidReceipt', message as never)
    // the same map with its keys in reverse order
    const wire = cborDecode(canonical) as Record<string, unknown>
    const reversed = Object.fromEntries(Object.entries(wire).reverse())
    const unsorted = cborEncode(reversed, { mapSorter: () => 0 })
    expect(unsorted).not.toEqual(canonical)
    expect(cborDecode(unsorted)).toEqual(wire)
    expectProtocolError(() => decodeMessage('bidReceipt', unsorted), ProtocolErrorCode.MALFORMED_ENCODING)
    // a non-shortest integer: version 1 as 0x18 0x01 instead of 0x01
    const key = new TextEncoder().encode('version')
    const at = Buffer.from(canonical).indexOf(Buffer.from(key)) + key.length
    expect(canonical[at]).toBe(0x01)
    const longInt = Uint8Array.from([...canonical.slice(0, at), 0x18, 0x01, ...canonical.slice(at + 1)])
    expectProtocolError(() => decodeMessage('bidReceipt', longInt), ProtocolErrorCode.MALFORMED_ENCODING)
  })

  it('refuses unknown fields, missing fields and other versions', () => {
    const receipt = samples[4]!.message as Record<string, unknown>
    expectProtocolError(
      () => decodeMessage('bidReceipt', cborEncode({ ...receipt, extra: 1 })),
      ProtocolErrorCode.INVALID_SCHEMA,
    )
    const { accepted: _drop, ...missing } = receipt
    expectProtocolError(
      () => decodeMessage('bidReceipt', cborEncode(missing)),
      ProtocolErrorCode.INVALID_SCHEMA,
    )
    expectProtocolError(
      () => decodeMessage('bidReceipt', cborEncode({ ...receipt, version: 2 })),
      ProtocolErrorCode.UNSUPPORTED_VERSION,
    )
  })

  it('refuses a peer id that is not canonical or has no inline key', () => {
    const notice = samples[3]!.message as Record<string, unknown>
    const bad = cborEncode({ ...notice, providerPeerId: 'Qm' + 'a'.repeat(44) })
    expectProtocolError(() => decodeMessage('resultNotice', bad), ProtocolErrorCode.INVALID_SCHEMA)
  })

  it('encodeMessage refuses our own invalid messages', () => {
    expectProtocolError(() =>
      encodeMessage('bidReceipt', { version: 1, jobId: '0x12', accepted: true } as never),
    )
  })
})

describe('decoder fuzzing', () => {
  const types = Object.keys(MessageSizeLimit) as MessageType[]

  function decodeOrProtocolError(type: MessageType, bytes: Uint8Array): void {
    try {
      decodeMessage(type, bytes)
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
    }
  }

  it('random bytes: only ProtocolError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 4096 }), (type, bytes) => {
        decodeOrProtocolError(type, bytes)
      }),
      { numRuns: 3000 },
    )
  })

  it('mutated valid messages: only ProtocolError', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 8 }),
        fc.array(
          fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (which, edits) => {
          const sample = samples[which]!
          const bytes = Array.from(encodeMessage(sample.type, sample.message as never))
          for (const [at, value, op] of edits) {
            const i = at % (bytes.length + 1)
            if (op === 'set' && i < bytes.length) bytes[i] = value
            else if (op === 'insert') bytes.splice(i, 0, value)
            else if (op === 'delete') bytes.splice(i, 1)
          }
          decodeOrProtocolError(sample.type, Uint8Array.from(bytes))
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('arbitrary CBOR values: only ProtocolError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.jsonValue({ maxDepth: 4 }), (type, value) => {
        let bytes: Uint8Array
        try {
          bytes = cborEncode(value)
        } catch {
          return
        }
        decodeOrProtocolError(type, bytes)
      }),
      { numRuns: 1000 },
    )
  })

  it('deep nesting does not escape as a RangeError', () => {
    const depth = 2000
    const nested = new Uint8Array(depth + 1).fill(0x81)
    nested[depth] = 0x00
    for (const type of types) decodeOrProtocolError(type, nested.slice(0, MessageSizeLimit[type]))
  })
})
