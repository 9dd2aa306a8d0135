// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IGroth16Verifier: a Groth16 verifier over BN254 with three public signals
/// @notice The shape of the verifier snarkjs exports (`Groth16Verifier.sol`) for an OCN inference
/// circuit, whose public signals are, in order, the model, input and output commitments.
/// @dev `b` holds each G2 coordinate with its two Fp2 limbs swapped into the order of the EVM
/// pairing precompile (EIP-197), as `toGroth16CallArguments` in the prover package writes them. The
/// snarkjs template returns false (rather than reverting) for an invalid proof, a signal outside
/// the scalar field, or too little gas for the pairing.
interface IGroth16Verifier {
    function verifyProof(
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[3] calldata publicSignals
    ) external view returns (bool);
}
