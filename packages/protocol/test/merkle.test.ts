import { concatHex, type Hex, keccak256, toHex } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  hashPair,
  keccakImplementation,
  keccakReady,
  MerkleTree,
  merkleLeaf,
  processMerkleProof,
  verifyMerkleProof,
} from '../src/index.js'
import { keccak256Bytes } from '../src/keccak.js'

const dataHash = (i: number): Hex => keccak256(toHex(`sample ${i}`))

describe('Merkle commitments', () => {
  it('proofs verify for every leaf of trees with 1..33 leaves', () => {
    for (let n = 1; n <= 33; n++) {
      const tree = MerkleTree.fromDataHashes(Array.from({ length: n }, (_, i) => dataHash(i)))
      expect(tree.leafCount).toBe(n)
      for (let i = 0; i < n; i++) {
        const leaf = merkleLeaf(i, dataHash(i))
        expect(tree.leaf(i)).toBe(leaf)
        const proof = tree.proof(i)
        expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)))
        expect(verifyMerkleProof(tree.root, leaf, proof)).toBe(true)
      }
    }
  })

  it('tampering with the leaf, its index, the proof or the root fails', () => {
    for (const n of [2, 3, 8, 17, 33]) {
      const tree = MerkleTree.fromDataHashes(Array.from({ length: n }, (_, i) => dataHash(i)))
      for (let i = 0; i < n; i++) {
        const proof = tree.proof(i)
        // other data at the same index
        expect(verifyMerkleProof(tree.root, merkleLeaf(i, dataHash(i + 1000)), proof)).toBe(false)
        // right data moved to another index
        expect(verifyMerkleProof(tree.root, merkleLeaf((i + 1) % n, dataHash(i)), proof)).toBe(false)
        // a changed sibling
        const bad = [...proof]
        bad[0] = keccak256(bad[0]!)
        expect(verifyMerkleProof(tree.root, tree.leaf(i), bad)).toBe(false)
        // a dropped sibling
        expect(verifyMerkleProof(tree.root, tree.leaf(i), proof.slice(1))).toBe(false)
        expect(verifyMerkleProof(keccak256(tree.root), tree.leaf(i), proof)).toBe(false)
      }
    }
  })

  it('hashes pairs like OpenZeppelin commutativeKeccak256 and leaves like StandardMerkleTree', () => {
    const a = dataHash(1)
    const b = dataHash(2)
    const [lo, hi] = BigInt(a) < BigInt(b) ? [a, b] : [b, a]
    expect(hashPair(a, b)).toBe(keccak256(concatHex([lo, hi])))
    expect(hashPair(b, a)).toBe(hashPair(a, b))
    // a leaf is a double hash of abi.encode(uint256, bytes32): 64 bytes, index first
    const encoded = concatHex([toHex(5n, { size: 32 }), a])
    expect(merkleLeaf(5, a)).toBe(keccak256(keccak256(encoded)))
    const big = 2n ** 200n + 7n
    expect(merkleLeaf(big, a)).toBe(keccak256(keccak256(concatHex([toHex(big, { size: 32 }), a]))))
    // upper-case hex is the same node
    expect(merkleLeaf(5, `0x${a.slice(2).toUpperCase()}`)).toBe(merkleLeaf(5, a))
    expect(() => merkleLeaf(-1, a)).toThrow(RangeError)
    expect(() => merkleLeaf(0, '0x1234')).toThrow(RangeError)
    const tree = MerkleTree.fromLeaves([a, b])
    expect(tree.root).toBe(hashPair(a, b))
    expect(processMerkleProof(a, tree.proof(0))).toBe(tree.root)
  })

  it('refuses an empty tree and out-of-range indices', () => {
    expect(() => MerkleTree.fromLeaves([])).toThrow(RangeError)
    const tree = MerkleTree.fromDataHashes([dataHash(0)])
    expect(tree.root).toBe(merkleLeaf(0, dataHash(0)))
    expect(tree.proof(0)).toEqual([])
    expect(() => tree.proof(1)).toThrow(RangeError)
  })

  it('hashes with the WebAssembly keccak once it is ready: the same digests as viem, each a fresh array', async () => {
    await keccakReady()
    expect(keccakImplementation()).toBe('wasm')
    const inputs = [
      new Uint8Array(0),
      new Uint8Array(32).fill(7),
      new Uint8Array(64).map((_, i) => i),
      new Uint8Array(200).fill(255),
    ]
    const digests = inputs.map((x) => keccak256Bytes(x))
    // every digest is still its own after the later calls (none is a view of the hasher's memory)
    expect(digests.map((d) => toHex(d))).toEqual(inputs.map((x) => keccak256(x)))
    const leaves = Array.from({ length: 9 }, (_, i) => dataHash(i))
    const root = MerkleTree.fromDataHashes(leaves).root
    const byViem = (i: number) =>
      keccak256(keccak256(concatHex([toHex(BigInt(i), { size: 32 }), leaves[i]!])))
    expect(MerkleTree.fromLeaves(leaves.map((_, i) => byViem(i))).root).toBe(root)
  })
})
