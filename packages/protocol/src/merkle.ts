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
import { concatHex, encodeAbiParameters, type Hex, hexToBytes, keccak256 } from 'viem'

export function merkleLeaf(index: number | bigint, dataHash: Hex): Hex {
  const inner = keccak256(
    encodeAbiParameters([{ type: 'uint256' }, { type: 'bytes32' }], [BigInt(index), dataHash]),
  )
  return keccak256(inner)
}

/** Sorted-pair hash, exactly as OpenZeppelin's `Hashes.commutativeKeccak256`. */
export function hashPair(a: Hex, b: Hex): Hex {
  return compareHex(a, b) <= 0 ? keccak256(concatHex([a, b])) : keccak256(concatHex([b, a]))
}

function compareHex(a: Hex, b: Hex): number {
  const x = hexToBytes(a)
  const y = hexToBytes(b)
  for (let i = 0; i < 32; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
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
    const levels: Hex[][] = [[...leaves]]
    let level = levels[0]!
    while (level.length > 1) {
      const next: Hex[] = []
      for (let i = 0; i < level.length; i += 2) {
        const left = level[i]!
        const right = level[i + 1]
        next.push(right === undefined ? left : hashPair(left, right))
      }
      levels.push(next)
      level = next
    }
    return new MerkleTree(levels)
  }

  /** Convenience: the tree over `merkleLeaf(i, dataHashes[i])`. */
  static fromDataHashes(dataHashes: readonly Hex[]): MerkleTree {
    return MerkleTree.fromLeaves(dataHashes.map((h, i) => merkleLeaf(i, h)))
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
  let node = leaf
  for (const sibling of proof) node = hashPair(node, sibling)
  return node
}

export function verifyMerkleProof(root: Hex, leaf: Hex, proof: readonly Hex[]): boolean {
  return processMerkleProof(leaf, proof).toLowerCase() === root.toLowerCase()
}
