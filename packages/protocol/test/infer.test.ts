import { describe, expect, it } from 'vitest'
import {
  decodeInferRequest,
  decodeInferResponse,
  encodeInferRequest,
  encodeInferResponse,
  type InferRequest,
  ProtocolError,
} from '../src/index.js'

const request: InferRequest = {
  modelHash: `0x${'11'.repeat(32)}`,
  voucher: {
    channelId: `0x${'22'.repeat(32)}`,
    cumulativeAmount: 2n ** 200n + 7n,
    signature: `0x${'33'.repeat(65)}`,
  },
  inputs: {
    input: { dtype: 'float32', dims: [2, 2], data: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer) },
    ids: { dtype: 'int64', dims: [1], data: new Uint8Array(8).fill(1) },
  },
}

function withHeader(frame: Uint8Array, edit: (header: Record<string, unknown>) => void): Uint8Array {
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0)
  const header = JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + length)))
  edit(header)
  const bytes = new TextEncoder().encode(JSON.stringify(header))
  const out = new Uint8Array(4 + bytes.length + frame.length - 4 - length)
  new DataView(out.buffer).setUint32(0, bytes.length)
  out.set(bytes, 4)
  out.set(frame.subarray(4 + length), 4 + bytes.length)
  return out
}

describe('/ocn/infer frames', () => {
  it('round-trips a request with a uint256-sized amount and several tensors', () => {
    const decoded = decodeInferRequest(encodeInferRequest(request))
    expect(decoded.voucher).toEqual(request.voucher)
    expect(decoded.modelHash).toBe(request.modelHash)
    expect(Array.from(new Float32Array(decoded.inputs.input!.data.buffer))).toEqual([1, 2, 3, 4])
    expect(decoded.inputs.ids!.dims).toEqual([1])
  })

  it('round-trips results and rejections', () => {
    const ok = decodeInferResponse(encodeInferResponse({ ok: true, outputs: request.inputs, accepted: 5n }))
    expect(ok.ok && ok.accepted).toBe(5n)
    const no = decodeInferResponse(
      encodeInferResponse({ ok: false, code: 'VOUCHER_NOT_NEWER', message: 'x'.repeat(2000) }),
    )
    expect(no.ok === false && no.code).toBe('VOUCHER_NOT_NEWER')
    expect(no.ok === false && no.message.length).toBe(500)
  })

  it('rejects frames that lie about their tensors or carry bad fields', () => {
    const frame = encodeInferRequest(request)
    const cases = [
      frame.subarray(0, frame.length - 1), // truncated tensor bytes
      new Uint8Array([...frame, 0]), // trailing byte
      withHeader(frame, (h) => {
        ;(h.tensors as { dims: number[] }[])[0]!.dims = [3, 2]
      }),
      withHeader(frame, (h) => {
        ;(h.voucher as Record<string, unknown>).cumulativeAmount = '-1'
      }),
      withHeader(frame, (h) => {
        ;(h.voucher as Record<string, unknown>).cumulativeAmount = 12
      }),
      withHeader(frame, (h) => {
        ;(h.voucher as Record<string, unknown>).signature = '0x1234'
      }),
      withHeader(frame, (h) => {
        h.v = 2
      }),
      withHeader(frame, (h) => {
        ;(h.tensors as { dtype: string }[])[0]!.dtype = 'complex64'
      }),
      new Uint8Array([0, 0, 0, 200, 1, 2]),
    ]
    for (const bad of cases) {
      expect(() => decodeInferRequest(bad)).toThrow(ProtocolError)
    }
  })
})
