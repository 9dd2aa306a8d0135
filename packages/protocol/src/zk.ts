/**
 * What binds a zk proof of inference to one job and one provider.
 *
 * A proof's other public signals (model, input and output commitments) say nothing about who
 * proved or for which job, so without this signal a proof settles every job with the same model
 * and input, for any provider: a copied proof is free money. The binding is a fourth public
 * signal; JobMarket.commitZkResult computes it from the job id and the job's provider and passes
 * it to the verifier, so a proof verifies only for the job and provider it was made for.
 * `ZkJobBinding.compute` in contracts/IGroth16Verifier.sol is the Solidity twin: both must agree.
 */
import { type Address, encodeAbiParameters, type Hex, keccak256 } from 'viem'

/** The BN254 scalar field order: every Groth16 public signal lies below it. */
export const BN254_SCALAR_FIELD_ORDER =
  21888242871839275222246405745257275088548364400416034343698204186575808495617n

/**
 * uint256(keccak256(abi.encode(bytes32 jobId, address provider))) mod the BN254 scalar field.
 * The reduction maps the 256-bit hash into the field (a few hash values share a residue: finding
 * two (job, provider) pairs with the same binding is still a 254-bit collision search).
 */
export function zkJobBinding(jobId: Hex, provider: Address): bigint {
  const encoded = encodeAbiParameters([{ type: 'bytes32' }, { type: 'address' }], [jobId, provider])
  return BigInt(keccak256(encoded)) % BN254_SCALAR_FIELD_ORDER
}
