// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IGroth16Verifier: a Groth16 verifier over BN254 with four public signals
/// @notice The shape of the verifier snarkjs exports (`Groth16Verifier.sol`) for an OCN inference
/// circuit, whose public signals are, in order, the model, input and output commitments and the
/// job binding (`ZkJobBinding.compute`).
/// @dev `b` holds each G2 coordinate with its two Fp2 limbs swapped into the order of the EVM
/// pairing precompile (EIP-197), as `toGroth16CallArguments` in the prover package writes them. The
/// snarkjs template returns false (rather than reverting) for an invalid proof, a signal outside
/// the scalar field, or too little gas for the pairing.
interface IGroth16Verifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[4] calldata publicSignals
    ) external view returns (bool);
}

/// @title ZkJobBinding: the public signal that ties a zk proof to one job and one provider
/// @notice The commitments alone say nothing about who proved or for which job, so without this
/// signal one proof would settle every job with the same model and input, for any provider. The
/// binding is computed on-chain from the job being settled, never taken from the caller, so a proof
/// made for another job or by another provider fails the pairing check.
/// @dev `zkJobBinding` in @ocn/protocol (src/zk.ts) is the TypeScript twin; both must agree.
library ZkJobBinding {
    /// @dev BN254 scalar field order: the binding must be a field element to be a public signal.
    uint256 internal constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice uint256(keccak256(abi.encode(jobId, provider))) mod the BN254 scalar field.
    function compute(bytes32 jobId, address provider) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(jobId, provider))) % SNARK_SCALAR_FIELD;
    }
}
