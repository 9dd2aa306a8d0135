/**
 * Canonical hashes of tensor sets: a micro-batch's outputs (an inference leaf's dataHash)
 * and a training checkpoint (weights + optimizer state).
 *
 * Serialization, hashed with SHA-256:
 *   utf8(domain) || 0x00 || u32be(tensor count) ||
 *   for each tensor, names in ascending UTF-8 byte order:
 *     u32be(byte length of name) || utf8(name) || u8(ONNX TensorProto.DataType code) ||
 *     u32be(rank) || u64be(dim) for each dim || element bytes, little-endian, row-major
 * domain is "ocn/outputs/v1" for outputs and "ocn/checkpoint/v1" for checkpoints.
 *
 * The checkpoint chain is h_0 = SHA-256(0^32 || c_0), h_i = SHA-256(h_{i-1} || c_i).
 */
import { createHash } from 'node:crypto'
import { onnxDataTypeCode } from '@ocn/prover/onnx'
import type { Hex } from 'viem'
import type { NamedTensors } from './tensor.js'

export const OUTPUTS_HASH_DOMAIN = 'ocn/outputs/v1'
export const CHECKPOINT_HASH_DOMAIN = 'ocn/checkpoint/v1'

export function hashTensors(domain: string, tensors: NamedTensors): Hex {
  const h = createHash('sha256')
  h.update(domain)
  h.update(new Uint8Array([0]))
  const names = Object.keys(tensors)
    .map((n) => [n, Buffer.from(n, 'utf8')] as const)
    .sort((a, b) => Buffer.compare(a[1], b[1]))
  const u32 = Buffer.alloc(4)
  u32.writeUInt32BE(names.length)
  h.update(u32)
  for (const [name, nameBytes] of names) {
    const t = tensors[name]!
    const head = Buffer.alloc(4 + nameBytes.length + 1 + 4 + 8 * t.dims.length)
    let o = head.writeUInt32BE(nameBytes.length, 0)
    o += nameBytes.copy(head, o)
    o = head.writeUInt8(onnxDataTypeCode[t.dtype], o)
    o = head.writeUInt32BE(t.dims.length, o)
    for (const d of t.dims) o = head.writeBigUInt64BE(BigInt(d), o)
    h.update(head)
    h.update(t.data)
  }
  return `0x${h.digest('hex')}`
}

/** dataHash of one micro-batch's outputs (the value inside its Merkle leaf). */
export function outputsDataHash(outputs: NamedTensors): Hex {
  return hashTensors(OUTPUTS_HASH_DOMAIN, outputs)
}

/** Hash of a training checkpoint: weights, optimizer state and step counter as named tensors. */
export function checkpointHash(state: NamedTensors): Hex {
  return hashTensors(CHECKPOINT_HASH_DOMAIN, state)
}

export const CHAIN_GENESIS: Hex = `0x${'00'.repeat(32)}`

export function chainHash(previous: Hex, checkpoint: Hex): Hex {
  return `0x${createHash('sha256')
    .update(Buffer.from(previous.slice(2), 'hex'))
    .update(Buffer.from(checkpoint.slice(2), 'hex'))
    .digest('hex')}`
}

/** h_i for every checkpoint hash, from the all-zero genesis. */
export function checkpointChain(checkpoints: readonly Hex[]): Hex[] {
  const out: Hex[] = []
  let prev = CHAIN_GENESIS
  for (const c of checkpoints) {
    prev = chainHash(prev, c)
    out.push(prev)
  }
  return out
}
