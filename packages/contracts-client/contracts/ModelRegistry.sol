// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title ModelRegistry: on-chain records of models and their curation status
/// @notice A record is keyed by the content hash of the model artifact, the `modelHash` job offers
/// name, and carries where the artifact can be fetched (a storage pointer such as an ipfs:// or
/// https:// URI), the hashes of its training spec and of its evaluation report, who proposed it
/// and its status. Anyone may propose a model: a proposal is a claim, it grants nothing. Status
/// changes (approve, deprecate, revoke, reject) go through the AccessManager, to the role the
/// deployment maps them to. JobMarket refuses to award jobs for a Revoked model.
/// Release gate: approval needs the evaluation report hash anchored, `minReviewPeriod` passed since
/// it was anchored, and no objection open. Anyone may object to a Proposed model with a bond of
/// `objectionBond` OPEN; the curator role resolves it: upheld, the proposal is deleted and the
/// bond returned; dismissed, the bond goes to the model's owner (whose release it delayed).
/// Suspension: the MODEL_MONITOR role (the ModelMonitor contract) suspends an Approved model whose
/// jobs lose too many disputes; the curator role reinstates it. Nodes that run only Approved
/// models stop running a Suspended one.
/// @dev Statuses: None -> Proposed (propose, anyone); Proposed -> Approved (approve, gated);
/// Approved -> Suspended (suspend, the monitor); Suspended -> Approved (reinstate);
/// Approved -> Deprecated (deprecate); Proposed -> None (reject: the record is deleted, so a
/// bogus or squatted proposal can be replaced); None/Proposed/Approved/Deprecated -> Revoked
/// (revoke). Revoked is final. Revoking a hash nobody proposed is allowed, because jobs for
/// unknown models still award: otherwise a bad model could dodge revocation by never being
/// proposed.
contract ModelRegistry is AccessManaged {
    using SafeERC20 for IERC20;

    enum ModelStatus {
        None,
        Proposed,
        Approved,
        Deprecated,
        Revoked,
        Suspended
    }

    /// @notice The governed release gate.
    struct ReleaseParams {
        /// @dev seconds between anchoring the evaluation report and the earliest approval
        uint32 minReviewPeriod;
        /// @dev OPEN an objector locks
        uint96 objectionBond;
    }

    struct Objection {
        address objector;
        uint96 bond;
        bytes32 reasonHash;
    }

    uint256 public constant MAX_REVIEW_PERIOD = 90 days;
    uint256 public constant MAX_OBJECTION_BOND = 1_000_000 ether;

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
    /// @notice When a Proposed model's review ends (0: no evaluation report anchored yet).
    mapping(bytes32 modelHash => uint40) public reviewEndsAt;
    mapping(bytes32 modelHash => Objection) private _objections;

    IERC20 public immutable token;
    ReleaseParams private _release;

    event ModelProposed(
        bytes32 indexed modelHash,
        address indexed owner,
        string storagePointer,
        bytes32 trainingSpecHash,
        bytes32 evaluationReportHash
    );
    event ReleaseParamsUpdated(uint32 minReviewPeriod, uint96 objectionBond);
    event EvaluationReportAnchored(bytes32 indexed modelHash, bytes32 reportHash, uint40 reviewEndsAt);
    event ModelObjected(bytes32 indexed modelHash, address indexed objector, bytes32 reasonHash, uint256 bond);
    event ObjectionResolved(bytes32 indexed modelHash, address indexed objector, bool upheld, address bondTo);
    event TrainingJobBound(bytes32 indexed modelHash, bytes32 indexed jobId);
    event ModelStatusChanged(
        bytes32 indexed modelHash, ModelStatus indexed from, ModelStatus indexed to, address by
    );

    error InvalidModelHash();
    error InvalidStoragePointer(uint256 length);
    error InvalidModelTransition(bytes32 modelHash, ModelStatus from, ModelStatus to);
    error NotModelOwner(bytes32 modelHash, address caller);
    error InvalidReleaseParams();
    error ReportNotAnchored(bytes32 modelHash);
    error ReviewNotOver(bytes32 modelHash, uint256 reviewEndsAt);
    error ObjectionOpen(bytes32 modelHash, address objector);
    error NoObjection(bytes32 modelHash);

    constructor(address authority, IERC20 token_, ReleaseParams memory release_) AccessManaged(authority) {
        token = token_;
        _setReleaseParams(release_);
    }

    /// @notice Sets the release gate (restricted: the PARAMETERS role), within the bounds above.
    function setReleaseParams(ReleaseParams calldata release_) external restricted {
        _setReleaseParams(release_);
    }

    function _setReleaseParams(ReleaseParams memory r) private {
        if (r.minReviewPeriod > MAX_REVIEW_PERIOD || r.objectionBond > MAX_OBJECTION_BOND) {
            revert InvalidReleaseParams();
        }
        _release = r;
        emit ReleaseParamsUpdated(r.minReviewPeriod, r.objectionBond);
    }


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
        m.storagePointer = storagePointer;
        emit ModelProposed(modelHash, msg.sender, storagePointer, trainingSpecHash, evaluationReportHash);
        emit ModelStatusChanged(modelHash, ModelStatus.None, ModelStatus.Proposed, msg.sender);
        if (evaluationReportHash != bytes32(0)) _anchor(modelHash, m, evaluationReportHash);
    }

    /// @notice The owner of a Proposed model anchors (or replaces) its evaluation report hash; the
    /// review period starts again from now.
    function anchorEvaluationReport(bytes32 modelHash, bytes32 reportHash) external {
        ModelRecord storage m = _models[modelHash];
        if (m.status != ModelStatus.Proposed) revert InvalidModelTransition(modelHash, m.status, ModelStatus.Proposed);
        if (msg.sender != m.owner) revert NotModelOwner(modelHash, msg.sender);
        if (reportHash == bytes32(0)) revert ReportNotAnchored(modelHash);
        _anchor(modelHash, m, reportHash);
    }

    function _anchor(bytes32 modelHash, ModelRecord storage m, bytes32 reportHash) private {
        uint40 ends = uint40(block.timestamp + _release.minReviewPeriod);
        m.evaluationReportHash = reportHash;
        reviewEndsAt[modelHash] = ends;
        emit EvaluationReportAnchored(modelHash, reportHash, ends);
    }

    /// @notice Anyone objects to a Proposed model, locking `objectionBond` OPEN (needs an
    /// allowance); one objection at a time, and approval waits until it is resolved.
    function objectToModel(bytes32 modelHash, bytes32 reasonHash) external {
        ModelRecord storage m = _models[modelHash];
        if (m.status != ModelStatus.Proposed) revert InvalidModelTransition(modelHash, m.status, ModelStatus.Proposed);
        Objection storage o = _objections[modelHash];
        if (o.objector != address(0)) revert ObjectionOpen(modelHash, o.objector);
        uint96 bond = _release.objectionBond;
        _objections[modelHash] = Objection({objector: msg.sender, bond: bond, reasonHash: reasonHash});
        emit ModelObjected(modelHash, msg.sender, reasonHash, bond);
        if (bond > 0) token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice Rules on the open objection (restricted: the curator role). Upheld: the proposal is
    /// deleted and the objector gets its bond back. Dismissed: the bond goes to the model's owner.
    function resolveObjection(bytes32 modelHash, bool upheld) external restricted {
        Objection memory o = _objections[modelHash];
        if (o.objector == address(0)) revert NoObjection(modelHash);
        address bondTo = upheld ? o.objector : _models[modelHash].owner;
        delete _objections[modelHash];
        emit ObjectionResolved(modelHash, o.objector, upheld, bondTo);
        if (upheld) _delete(modelHash);
        if (o.bond > 0) token.safeTransfer(bondTo, o.bond);
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
    /// Only once its evaluation report is anchored, the review period over and no objection open.
    function approveModel(bytes32 modelHash) external restricted {
        uint256 ends = reviewEndsAt[modelHash];
        if (_models[modelHash].status == ModelStatus.Proposed) {
            if (ends == 0) revert ReportNotAnchored(modelHash);
            if (block.timestamp < ends) revert ReviewNotOver(modelHash, ends);
            address objector = _objections[modelHash].objector;
            if (objector != address(0)) revert ObjectionOpen(modelHash, objector);
        }
        _transition(modelHash, ModelStatus.Proposed, ModelStatus.Approved);
    }

    /// @notice Approved -> Suspended (restricted: the MODEL_MONITOR role, the ModelMonitor).
    function suspendModel(bytes32 modelHash) external restricted {
        _transition(modelHash, ModelStatus.Approved, ModelStatus.Suspended);
    }

    /// @notice Suspended -> Approved (restricted: the curator role, governance).
    function reinstateModel(bytes32 modelHash) external restricted {
        _transition(modelHash, ModelStatus.Suspended, ModelStatus.Approved);
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
        _refundObjection(modelHash);
        _delete(modelHash);
    }

    /// @dev Deletes a Proposed record (rejected, or an objection upheld) so the hash can be proposed again.
    function _delete(bytes32 modelHash) private {
        delete _models[modelHash];
        delete trainingJobOf[modelHash];
        delete reviewEndsAt[modelHash];
        emit ModelStatusChanged(modelHash, ModelStatus.Proposed, ModelStatus.None, msg.sender);
    }

    /// @dev A proposal ended without a ruling on its objection: the objector gets its bond back.
    function _refundObjection(bytes32 modelHash) private {
        Objection memory o = _objections[modelHash];
        if (o.objector == address(0)) return;
        delete _objections[modelHash];
        emit ObjectionResolved(modelHash, o.objector, true, o.objector);
        if (o.bond > 0) token.safeTransfer(o.objector, o.bond);
    }

    /// @notice Any status but Revoked -> Revoked, for good: JobMarket awards no further job for it.
    function revokeModel(bytes32 modelHash) external restricted {
        if (modelHash == bytes32(0)) revert InvalidModelHash();
        ModelRecord storage m = _models[modelHash];
        ModelStatus from = m.status;
        if (from == ModelStatus.Revoked) revert InvalidModelTransition(modelHash, from, ModelStatus.Revoked);
        _refundObjection(modelHash);
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

    function releaseParams() external view returns (ReleaseParams memory) {
        return _release;
    }

    function getObjection(bytes32 modelHash) external view returns (Objection memory) {
        return _objections[modelHash];
    }

    /// @notice The whole record; status None (and zero fields) means no record.
    function getModel(bytes32 modelHash) external view returns (ModelRecord memory) {
        return _models[modelHash];
    }
}
