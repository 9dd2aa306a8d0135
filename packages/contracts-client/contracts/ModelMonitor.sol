// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {JobMarket} from "./JobMarket.sol";
import {JobMarketState} from "./JobMarketState.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {IDisputeCourt} from "./IDisputeCourt.sol";

/**
 * @title ModelMonitor: suspends a model whose jobs keep losing disputes
 * @notice Reads outcomes the DisputeCourt already records (no hook in the JobMarket or the court):
 * anyone reports a Closed dispute together with the offer of its job (whose hash is the job id,
 * and which names the model). A dispute ruled Guilty counts as lost. Per model, outcomes are
 * counted over a window of `window` seconds starting at the first report after the last window
 * ended; once at least `minDisputes` are counted and more than `maxLostBps` of them were lost,
 * the monitor suspends the model in the ModelRegistry (it holds the MODEL_MONITOR role there).
 * Governance reinstates a suspended model through the registry.
 * @dev The court is read through IDisputeCourt.disputeOutcome only (not DisputeCourt.sol, which
 * is compiled on its own with fewer optimizer runs, and not its Dispute struct), so a change of
 * the court's layout cannot silently change what the monitor decodes.
 */
contract ModelMonitor is AccessManaged {
    uint256 private constant BPS = 10_000;
    uint256 public constant MIN_WINDOW = 1 hours;
    uint256 public constant MAX_WINDOW = 365 days;

    struct Params {
        uint32 window;
        uint16 maxLostBps;
        uint16 minDisputes;
    }

    struct Tally {
        uint40 windowStart;
        uint32 disputes;
        uint32 lost;
    }

    JobMarket public immutable jobMarket;
    IDisputeCourt public immutable disputeCourt;
    ModelRegistry public immutable modelRegistry;

    Params private _params;
    mapping(bytes32 modelHash => Tally) private _tallies;
    mapping(uint256 disputeId => bool) public reported;

    event ParamsUpdated(Params params);
    event DisputeReported(bytes32 indexed modelHash, uint256 indexed disputeId, bool lost, uint32 disputes, uint32 lostCount);
    event ModelSuspendedByMonitor(bytes32 indexed modelHash, uint32 disputes, uint32 lost);

    error InvalidParams();
    error AlreadyReported(uint256 disputeId);
    error DisputeNotClosed(uint256 disputeId);
    error DisputeJobMismatch(uint256 disputeId, bytes32 jobId);

    constructor(
        address authority,
        JobMarket jobMarket_,
        IDisputeCourt disputeCourt_,
        ModelRegistry modelRegistry_,
        Params memory params_
    ) AccessManaged(authority) {
        jobMarket = jobMarket_;
        disputeCourt = disputeCourt_;
        modelRegistry = modelRegistry_;
        _setParams(params_);
    }

    /// @notice Sets the thresholds (restricted: the PARAMETERS role), within the bounds above.
    function setParams(Params calldata params_) external restricted {
        _setParams(params_);
    }

    function _setParams(Params memory p) private {
        if (
            p.window < MIN_WINDOW || p.window > MAX_WINDOW || p.maxLostBps >= BPS || p.minDisputes == 0
        ) revert InvalidParams();
        _params = p;
        emit ParamsUpdated(p);
    }

    /// @notice Counts the Closed dispute `disputeId` against the model of the job `offer` describes,
    /// and suspends the model if the window's share of lost disputes passes the threshold. Anyone
    /// may call it, once per dispute.
    function reportDispute(JobMarketState.JobOffer calldata offer, uint256 disputeId) external {
        if (reported[disputeId]) revert AlreadyReported(disputeId);
        bytes32 jobId = jobMarket.hashJobOffer(offer);
        (bytes32 disputedJob, bool closed, uint8 ruling) = disputeCourt.disputeOutcome(disputeId);
        if (disputedJob != jobId) revert DisputeJobMismatch(disputeId, jobId);
        if (!closed) revert DisputeNotClosed(disputeId);
        reported[disputeId] = true;
        bytes32 modelHash = offer.modelHash;
        Params memory p = _params;
        Tally memory t = _tallies[modelHash];
        if (t.windowStart == 0 || block.timestamp >= uint256(t.windowStart) + p.window) {
            t = Tally({windowStart: uint40(block.timestamp), disputes: 0, lost: 0});
        }
        // DisputeCourt.RULING_GUILTY
        bool lost = ruling == 1;
        t.disputes += 1;
        if (lost) t.lost += 1;
        _tallies[modelHash] = t;
        emit DisputeReported(modelHash, disputeId, lost, t.disputes, t.lost);
        if (
            t.disputes >= p.minDisputes && uint256(t.lost) * BPS > uint256(p.maxLostBps) * t.disputes
                && modelRegistry.modelStatus(modelHash) == ModelRegistry.ModelStatus.Approved
        ) {
            emit ModelSuspendedByMonitor(modelHash, t.disputes, t.lost);
            modelRegistry.suspendModel(modelHash);
        }
    }

    function params() external view returns (Params memory) {
        return _params;
    }

    function tallyOf(bytes32 modelHash) external view returns (Tally memory) {
        return _tallies[modelHash];
    }
}
