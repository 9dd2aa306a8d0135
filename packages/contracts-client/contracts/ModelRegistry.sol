// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";

/// @title ModelRegistry: on-chain records of models and their curation status
/// @notice A record is keyed by the content hash of the model artifact, the `modelHash` job offers
/// name, and carries where the artifact can be fetched (a storage pointer such as an ipfs:// or
/// https:// URI), the hashes of its training spec and of its evaluation report, who proposed it
/// and its status. Anyone may propose a model: a proposal is a claim, it grants nothing. Status
/// changes (approve, deprecate, revoke, reject) go through the AccessManager, to the role the
/// deployment maps them to. JobMarket refuses to award jobs for a Revoked model.
/// @dev Statuses: None -> Proposed (propose, anyone); Proposed -> Approved (approve);
/// Approved -> Deprecated (deprecate); Proposed -> None (reject: the record is deleted, so a
/// bogus or squatted proposal can be replaced); None/Proposed/Approved/Deprecated -> Revoked
/// (revoke). Revoked is final. Revoking a hash nobody proposed is allowed, because jobs for
/// unknown models still award: otherwise a bad model could dodge revocation by never being
/// proposed.
contract ModelRegistry is AccessManaged {
    enum ModelStatus {
        None,
        Proposed,
        Approved,
        Deprecated,
        Revoked
    }

    /// @dev The first slot holds everything JobMarket reads (the status), so its check is one SLOAD.
    struct ModelRecord {
        address owner;
        ModelStatus status;
        uint40 proposedAt;
        uint40 updatedAt;
        bytes32 trainingSpecHash;
        bytes32 evaluationReportHash;
        string storagePointer;
    }

    /// @notice Longest storage pointer accepted, in bytes (a URI, not the data).
    uint256 public constant MAX_STORAGE_POINTER_LENGTH = 256;

    mapping(bytes32 modelHash => ModelRecord) private _models;
    /// @notice The JobMarket training job that produced a model, named by its owner while it was
    /// proposed (so the review before approval covers the claim): the job whose committed
    /// attribution the DatanetRegistry may turn into the model's pool weights.
    mapping(bytes32 modelHash => bytes32 jobId) public trainingJobOf;

    event ModelProposed(
        bytes32 indexed modelHash,
        address indexed owner,
        string storagePointer,
        bytes32 trainingSpecHash,
        bytes32 evaluationReportHash
    );
    event TrainingJobBound(bytes32 indexed modelHash, bytes32 indexed jobId);
    event ModelStatusChanged(
        bytes32 indexed modelHash, ModelStatus indexed from, ModelStatus indexed to, address by
    );

    error InvalidModelHash();
    error InvalidStoragePointer(uint256 length);
    error InvalidModelTransition(bytes32 modelHash, ModelStatus from, ModelStatus to);
    error NotModelOwner(bytes32 modelHash, address caller);

    constructor(address authority) AccessManaged(authority) {}

    /// @notice Proposes the model `modelHash` with its metadata; the caller becomes its owner.
    function proposeModel(
        bytes32 modelHash,
        string calldata storagePointer,
        bytes32 trainingSpecHash,
        bytes32 evaluationReportHash
    ) external {
        if (modelHash == bytes32(0)) revert InvalidModelHash();
        uint256 length = bytes(storagePointer).length;
        if (length == 0 || length > MAX_STORAGE_POINTER_LENGTH) revert InvalidStoragePointer(length);
        ModelRecord storage m = _models[modelHash];
        if (m.status != ModelStatus.None) revert InvalidModelTransition(modelHash, m.status, ModelStatus.Proposed);
        m.owner = msg.sender;
        m.status = ModelStatus.Proposed;
        m.proposedAt = uint40(block.timestamp);
        m.updatedAt = uint40(block.timestamp);
        m.trainingSpecHash = trainingSpecHash;
        m.evaluationReportHash = evaluationReportHash;
        m.storagePointer = storagePointer;
        emit ModelProposed(modelHash, msg.sender, storagePointer, trainingSpecHash, evaluationReportHash);
        emit ModelStatusChanged(modelHash, ModelStatus.None, ModelStatus.Proposed, msg.sender);
    }

    /// @notice The owner of a Proposed model names the training job that produced it (once
    /// approved, the binding is fixed). Zero clears it.
    function bindTrainingJob(bytes32 modelHash, bytes32 jobId) external {
        ModelRecord storage m = _models[modelHash];
        if (m.status != ModelStatus.Proposed) revert InvalidModelTransition(modelHash, m.status, ModelStatus.Proposed);
        if (msg.sender != m.owner) revert NotModelOwner(modelHash, msg.sender);
        trainingJobOf[modelHash] = jobId;
        emit TrainingJobBound(modelHash, jobId);
    }

    /// @notice Proposed -> Approved: the model may be run where nodes only run approved models.
    function approveModel(bytes32 modelHash) external restricted {
        _transition(modelHash, ModelStatus.Proposed, ModelStatus.Approved);
    }

    /// @notice Approved -> Deprecated: superseded; existing and new jobs still award.
    function deprecateModel(bytes32 modelHash) external restricted {
        _transition(modelHash, ModelStatus.Approved, ModelStatus.Deprecated);
    }

    /// @notice Proposed -> None: deletes a proposal that will not be approved, so the hash can be
    /// proposed again with correct metadata.
    function rejectModel(bytes32 modelHash) external restricted {
        ModelStatus from = _models[modelHash].status;
        if (from != ModelStatus.Proposed) revert InvalidModelTransition(modelHash, from, ModelStatus.None);
        delete _models[modelHash];
        delete trainingJobOf[modelHash];
        emit ModelStatusChanged(modelHash, from, ModelStatus.None, msg.sender);
    }

    /// @notice Any status but Revoked -> Revoked, for good: JobMarket awards no further job for it.
    function revokeModel(bytes32 modelHash) external restricted {
        if (modelHash == bytes32(0)) revert InvalidModelHash();
        ModelRecord storage m = _models[modelHash];
        ModelStatus from = m.status;
        if (from == ModelStatus.Revoked) revert InvalidModelTransition(modelHash, from, ModelStatus.Revoked);
        m.status = ModelStatus.Revoked;
        m.updatedAt = uint40(block.timestamp);
        emit ModelStatusChanged(modelHash, from, ModelStatus.Revoked, msg.sender);
    }

    function _transition(bytes32 modelHash, ModelStatus from, ModelStatus to) private {
        ModelRecord storage m = _models[modelHash];
        if (m.status != from) revert InvalidModelTransition(modelHash, m.status, to);
        m.status = to;
        m.updatedAt = uint40(block.timestamp);
        emit ModelStatusChanged(modelHash, from, to, msg.sender);
    }

    /// @notice The status alone (one storage read): what JobMarket checks at award.
    function modelStatus(bytes32 modelHash) external view returns (ModelStatus) {
        return _models[modelHash].status;
    }

    /// @notice Approved or Deprecated: a model that went through review and was not revoked.
    function isLive(bytes32 modelHash) external view returns (bool) {
        ModelStatus s = _models[modelHash].status;
        return s == ModelStatus.Approved || s == ModelStatus.Deprecated;
    }

    /// @notice The whole record; status None (and zero fields) means no record.
    function getModel(bytes32 modelHash) external view returns (ModelRecord memory) {
        return _models[modelHash];
    }
}
