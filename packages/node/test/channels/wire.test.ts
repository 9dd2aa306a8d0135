import { encodeInferResponse as encodeResponseFrame } from '@ocn/protocol'
import { describe, expect, it } from 'vitest'
import { ChannelError, ChannelErrorCode } from '../../src/channels/errors.js'
import { decodeInferRequest, decodeInferResponse, encodeInferResponse } from '../../src/channels/wire.js'

// The frame format itself is tested in @ocn/protocol (test/infer.test.ts); here, what the
// channels make of it.
describe('/ocn/infer frames in the channels', () => {
  it('turns a malformed frame into BAD_REQUEST with the protocol’s details', () => {
    const error = (() => {
      try {
        decodeInferRequest(new Uint8Array([0, 0, 0, 200, 1, 2]))
      } catch (cause) {
        return cause
      }
    })()
    expect(error).toBeInstanceOf(ChannelError)
    expect((error as ChannelError).code).toBe(ChannelErrorCode.BAD_REQUEST)
    expect((error as ChannelError).details).toBe('header length out of range')
  })

  it('keeps channel error codes and refuses a rejection with a code it does not know', () => {
    const known = decodeInferResponse(
      encodeInferResponse({ ok: false, code: 'UNKNOWN_MODEL', message: 'no' }),
    )
    expect(known).toEqual({ ok: false, code: 'UNKNOWN_MODEL', message: 'no' })
    const unknown = encodeResponseFrame({ ok: false, code: 'SOMETHING_ELSE', message: 'no' })
    expect(() => decodeInferResponse(unknown)).toThrow(ChannelError)
  })
})
