/**
 * Merkle commitments over result leaves, checkable on-chain with OpenZeppelin's
 * `MerkleProof.verify` (sorted-pair keccak256 hashing).
 *
 * A leaf commits to one item (a micro-batch's outputs, a training checkpoint) by its
 * position and the hash of its data: `keccak256(keccak256(abi.encode(uint256 index,
 * bytes32 dataHash)))`. The index stops a provider from moving a correct leaf to another
 * position; hashing twice keeps a leaf from ever equalling an inner node (64-byte
 * preimages), the same reason OpenZeppelin's StandardMerkleTree does it.
 *
 * The tree is built level by level; an odd node at the end of a level is carried up
 * unchanged, so its proof simply has no sibling at that level.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import type { Hex } from 'viem'
import { keccak256Bytes } from './keccak.js'

// The tree works on bytes and turns nodes into hex once: viem's keccak256 over hex strings
// (parse, hash, format per call) made a 256-leaf tree cost ~20 ms, a tenth of the
// generation it commits to; the hashing itself is keccak.ts's (WebAssembly once compiled).

const toBytes32 = (h: Hex): Uint8Array => {
  const b = hexToBytes(h.slice(2))
  if (b.length !== 32) throw new RangeError(`a Merkle node is 32 bytes, got ${b.length}`)
  return b
}
const toHex = (b: Uint8Array): Hex => `0x${bytesToHex(b)}`

function leafBytes(index: number | bigint, dataHash: Uint8Array): Uint8Array {
  const pre = new Uint8Array(64)
  let i = BigInt(index)
  if (i < 0n || i >= 1n << 256n) throw new RangeError(`leaf index ${index} is not a uint256`)
  for (let k = 31; k >= 0 && i > 0n; k--) {
    pre[k] = Number(i & 0xffn)
    i >>= 8n
  }
  pre.set(dataHash, 32)
  return keccak256Bytes(keccak256Bytes(pre))
}

export function merkleLeaf(index: number | bigint, dataHash: Hex): Hex {
  return toHex(leafBytes(index, toBytes32(dataHash)))
}

function pairBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const pre = new Uint8Array(64)
  const aFirst = compareBytes(a, b) <= 0
  pre.set(aFirst ? a : b, 0)
  pre.set(aFirst ? b : a, 32)
  return keccak256Bytes(pre)
}

/** Sorted-pair hash, exactly as OpenZeppelin's `Hashes.commutativeKeccak256`. */
export function hashPair(a: Hex, b: Hex): Hex {
  return toHex(pairBytes(toBytes32(a), toBytes32(b)))
}

function compareBytes(x: Uint8Array, y: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = x[i]! - y[i]!
    if (d !== 0) return d
  }
  return 0
}

/** The levels over `leaves`, leaves first, each carried up an odd node at its end. */
function levelsOver(leaves: Uint8Array[]): Uint8Array[][] {
  const levels = [leaves]
  let level = leaves
  while (level.length > 1) {
    const next: Uint8Array[] = []
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1]
      next.push(right === undefined ? level[i]! : pairBytes(level[i]!, right))
    }
    levels.push(next)
    level = next
  }
  return levels
}

export class MerkleTree {
  /** levels[0] are the leaves, the last level holds the root alone */
  readonly levels: readonly (readonly Hex[])[]

  private constructor(levels: Hex[][]) {
    this.levels = levels
  }

  /** Builds a tree over already-hashed leaves (see `merkleLeaf`). */
  static fromLeaves(leaves: readonly Hex[]): MerkleTree {
    if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
    return MerkleTree.overBytes(leaves.map(toBytes32))
  }

  /** Convenience: the tree over `merkleLeaf(i, dataHashes[i])`. */
  static fromDataHashes(dataHashes: readonly Hex[]): MerkleTree {
    if (dataHashes.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
    return MerkleTree.overBytes(dataHashes.map((h, i) => leafBytes(i, toBytes32(h))))
  }

  private static overBytes(leaves: Uint8Array[]): MerkleTree {
    return new MerkleTree(levelsOver(leaves).map((level) => level.map(toHex)))
  }

  get root(): Hex {
    return this.levels[this.levels.length - 1]![0]!
  }

  get leafCount(): number {
    return this.levels[0]!.length
  }

  leaf(index: number): Hex {
    const leaf = this.levels[0]![index]
    if (leaf === undefined) throw new RangeError(`leaf ${index} out of range 0..${this.leafCount - 1}`)
    return leaf
  }

  /** Sibling hashes from the leaf up, as `MerkleProof.verify` expects. */
  proof(index: number): Hex[] {
    this.leaf(index)
    const proof: Hex[] = []
    let i = index
    for (let l = 0; l < this.levels.length - 1; l++) {
      const level = this.levels[l]!
      const sibling = level[i ^ 1]
      if (sibling !== undefined) proof.push(sibling)
      i >>= 1
    }
    return proof
  }
}

/** Recomputes the root from a leaf and its proof; the same fold as `MerkleProof.processProof`. */
export function processMerkleProof(leaf: Hex, proof: readonly Hex[]): Hex {
  let node = toBytes32(leaf)
  for (const sibling of proof) node = pairBytes(node, toBytes32(sibling))
  return toHex(node)
}

export function verifyMerkleProof(root: Hex, leaf: Hex, proof: readonly Hex[]): boolean {
  return processMerkleProof(leaf, proof).toLowerCase() === root.toLowerCase()
}
