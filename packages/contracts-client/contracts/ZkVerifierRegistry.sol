// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IGroth16Verifier} from "./IGroth16Verifier.sol";

/// @title ZkVerifierRegistry: which Groth16 verifier checks proofs for which model
/// @notice An entry names a model by the content hash of its ONNX artifact (the `modelHash` of a
/// job offer) and pins the model commitment its circuit proves against (the Poseidon hash of the
/// quantized weights, the circuit's first public signal) together with the verifier contract
/// exported from that circuit's Groth16 setup. JobMarket reads an entry when it awards a zk-mode
/// job, so the offer keeps naming the artifact while the proof is checked against the commitment.
/// @dev Entries are set and cleared only through the AccessManager: the deployment leaves both
/// setters at the manager's admin role, since a verifier whose setup is compromised would accept
/// forged results.
contract ZkVerifierRegistry is AccessManaged {
    /// @dev BN254 scalar field order: public signals are field elements below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    struct ZkModel {
        uint256 modelCommitment;
        IGroth16Verifier verifier;
    }

    mapping(bytes32 modelHash => ZkModel) private _models;

    event ZkModelRegistered(bytes32 indexed modelHash, uint256 indexed modelCommitment, address indexed verifier);
    event ZkModelCleared(bytes32 indexed modelHash, uint256 indexed modelCommitment, address indexed verifier);

    error ZkModelNotRegistered(bytes32 modelHash);
    error InvalidModelCommitment(uint256 modelCommitment);
    error VerifierNotContract(address verifier);

    constructor(address authority) AccessManaged(authority) {}

    /// @notice Registers (or replaces) the verifier and model commitment for the artifact `modelHash`.
    /// Jobs already awarded keep the entry they were awarded under.
    function registerZkModel(bytes32 modelHash, uint256 modelCommitment, IGroth16Verifier verifier)
        external
        restricted
    {
        // Zero is no commitment: it is what an absent entry reads as.
        if (modelCommitment == 0 || modelCommitment >= SNARK_SCALAR_FIELD) {
            revert InvalidModelCommitment(modelCommitment);
        }
        if (address(verifier).code.length == 0) revert VerifierNotContract(address(verifier));
        _models[modelHash] = ZkModel({modelCommitment: modelCommitment, verifier: verifier});
        emit ZkModelRegistered(modelHash, modelCommitment, address(verifier));
    }

    /// @notice Removes the entry: no new zk-mode job for `modelHash` can be awarded.
    function clearZkModel(bytes32 modelHash) external restricted {
        ZkModel memory m = _models[modelHash];
        if (address(m.verifier) == address(0)) revert ZkModelNotRegistered(modelHash);
        delete _models[modelHash];
        emit ZkModelCleared(modelHash, m.modelCommitment, address(m.verifier));
    }

    /// @notice The entry for `modelHash`; a zero verifier means none.
    function getZkModel(bytes32 modelHash) external view returns (uint256 modelCommitment, IGroth16Verifier verifier) {
        ZkModel storage m = _models[modelHash];
        return (m.modelCommitment, m.verifier);
    }
}
