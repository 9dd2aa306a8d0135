// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {JobMarket} from "../JobMarket.sol";
import {JobMarketState} from "../JobMarketState.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {AttributionPool} from "../attribution/AttributionPool.sol";

/**
 * @title DatanetRegistry: datanets on chain, staked contributions, attribution from finalized jobs
 * @notice A datanet is a dataset assembled from contributors' data, each contribution registered by
 * the content hash of its data and backed by a stake of OPEN.
 *
 *  - Creating a datanet burns `creationBurn` OPEN. OPEN has no burn function (fixed supply), so the
 *    amount goes to BURN_SINK, an address nobody holds a key for, and `totalBurned` counts it: the
 *    supply held by everyone else falls by exactly that much.
 *  - An open datanet accepts every contribution at once; a curated one holds it Pending until one
 *    of its curators (set by its creator, at most `maxCurators`) accepts or rejects it, and may
 *    require a minimum contributor reputation. A rejected (or withdrawn pending) contribution gets
 *    its stake back: curation is not a penalty.
 *  - Accepted contributions form an append-only list. The first `count` of them are a datanet
 *    manifest in today's format (packages/protocol/src/datanet.ts): contributor k supplies rows
 *    [start_k, start_k + rows_k) in acceptance order. `manifestHash` recomputes its canonical hash,
 *    so a prefix once trained on keeps its hash whatever is accepted later.
 *  - A contribution's stake is locked `stakeLockPeriod` from acceptance, and for as long as it is
 *    challengeable.
 *  - `recordAttribution`: once a training job on the datanet is Finalized in the JobMarket, anyone
 *    proves the job's committed attribution leaf (the last result leaf, keccak of the result) and
 *    the model's weights root goes to the AttributionPool, no trusted hand involved (this contract
 *    holds the pool's attribution role; the timelock keeps it too, as an emergency override). The
 *    model must be one the ModelRegistry has approved with that job as its training job.
 *  - The same call updates each contributor's record (weight earned, times ranked harmful). A
 *    contribution whose committed influence is negative with magnitude at least `harmThresholdBps`
 *    of the largest influence's becomes challengeable for `challengePeriod`: anyone may then slash
 *    its whole stake, `challengerShareBps` of it to the challenger and the rest into the pool for
 *    the model, i.e. to the datanet's honest contributors. Low but non-negative influence is
 *    never slashable.
 */
contract DatanetRegistry is AccessManaged {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    /// @notice Where burned OPEN goes: an address with no known key (OPEN cannot be destroyed).
    address public constant BURN_SINK = 0x000000000000000000000000000000000000dEaD;
    bytes32 private constant MANIFEST_DOMAIN = keccak256("ocn/datanet/v1");
    bytes32 private constant RESULT_DOMAIN = keccak256("ocn/attribution/v1");

    // governance bounds of the parameters (setParams reverts outside them)
    uint256 public constant MAX_CREATION_BURN = 1_000_000 ether;
    uint256 public constant MAX_CONTRIBUTION_STAKE = 1_000_000 ether;
    uint256 public constant MAX_STAKE_LOCK = 365 days;
    uint256 public constant MIN_CHALLENGE_PERIOD = 1 hours;
    uint256 public constant MAX_CHALLENGE_PERIOD = 90 days;
    uint256 public constant MAX_CURATORS = 32;

    enum ContributionStatus {
        None,
        Pending,
        Accepted,
        Withdrawn,
        Slashed
    }

    struct Params {
        uint96 creationBurn;
        uint96 contributionStake;
        uint32 stakeLockPeriod;
        uint32 challengePeriod;
        /// @dev a score below zero with |score| >= this share of the largest |score| is harmful
        uint16 harmThresholdBps;
        uint16 challengerShareBps;
        uint8 maxCurators;
    }

    struct Datanet {
        address creator;
        bool curated;
        uint8 curatorCount;
        uint32 contributionCount;
        uint32 acceptedCount;
        uint64 minReputation;
        bytes32 metadataHash;
    }

    struct Contribution {
        address contributor;
        ContributionStatus status;
        uint40 unlocksAt;
        uint40 challengeableUntil;
        uint96 stake;
        uint64 rows;
        /// @dev first manifest row, fixed at acceptance
        uint64 startRow;
        bytes32 dataHash;
        /// @dev the model whose finalized attribution ranked it harmful (0: none)
        bytes32 harmfulModel;
    }

    struct ContributorRecord {
        uint32 attributions;
        uint32 harmful;
        uint32 slashed;
        uint64 weightBpsTotal;
    }

    /// @notice The committed attribution result, field for field as node/src/attribution/result.ts hashes it.
    struct AttributionResult {
        bytes32 methodHash;
        bytes32 manifestHash;
        bytes32 validationHash;
        bytes32[] checkpointHashes;
        /// @dev big-endian float64 per contributor
        bytes scores;
        WeightEntry[] weights;
        bytes32 weightsRoot;
    }

    struct WeightEntry {
        address account;
        uint256 weight;
    }

    struct ManifestRange {
        uint256 start;
        uint256 end;
    }

    struct ManifestEntry {
        address account;
        bytes32 dataHash;
        ManifestRange[] ranges;
    }

    IERC20 public immutable token;
    JobMarket public immutable jobMarket;
    ModelRegistry public immutable modelRegistry;
    AttributionPool public immutable attributionPool;

    Params private _params;
    uint256 public datanetCount;
    uint256 public totalBurned;
    /// @notice OPEN staked in live (pending or accepted, not withdrawn or slashed) contributions.
    uint256 public totalStaked;

    mapping(uint256 datanetId => Datanet) private _datanets;
    mapping(uint256 datanetId => mapping(address => bool)) public isCurator;
    mapping(uint256 datanetId => mapping(uint256 index => Contribution)) private _contributions;
    mapping(uint256 datanetId => mapping(uint256 position => uint256 index)) private _accepted;
    mapping(uint256 datanetId => mapping(address => uint256 indexPlusOne)) private _contributionOf;
    mapping(address => ContributorRecord) private _records;
    mapping(bytes32 jobId => bool) public attributionRecorded;

    event ParamsUpdated(Params params);
    event DatanetCreated(uint256 indexed datanetId, address indexed creator, bool curated, uint64 minReputation, bytes32 metadataHash, uint256 burned);
    event CuratorSet(uint256 indexed datanetId, address indexed curator, bool enabled);
    event ContributionSubmitted(uint256 indexed datanetId, uint256 indexed index, address indexed contributor, bytes32 dataHash, uint64 rows, uint256 stake);
    event ContributionAccepted(uint256 indexed datanetId, uint256 indexed index, uint256 position, uint64 startRow, uint40 unlocksAt);
    event ContributionRejected(uint256 indexed datanetId, uint256 indexed index, address by);
    event StakeWithdrawn(uint256 indexed datanetId, uint256 indexed index, address indexed contributor, uint256 amount);
    /// @dev Carries the weights list itself (64 bytes of log data per contributor, ~0.5k gas each):
    /// a contributor's claim rebuilds the weights tree from this event alone, however the recording
    /// reached this contract (directly, or through a multisig, a timelock or any other contract).
    event AttributionRecorded(
        uint256 indexed datanetId,
        bytes32 indexed jobId,
        bytes32 indexed modelHash,
        bytes32 weightsRoot,
        bytes32 resultHash,
        uint256 count,
        WeightEntry[] weights
    );
    event ContributionHarmful(uint256 indexed datanetId, uint256 indexed index, bytes32 indexed modelHash, uint40 challengeableUntil);
    event ContributionSlashed(uint256 indexed datanetId, uint256 indexed index, address indexed challenger, uint256 reward, uint256 toPool);

    error InvalidParams();
    error UnknownDatanet(uint256 datanetId);
    error NotCreator(uint256 datanetId, address caller);
    error NotCurator(uint256 datanetId, address caller);
    error NotCurated(uint256 datanetId);
    error TooManyCurators(uint256 datanetId, uint256 max);
    error InvalidContribution();
    error AlreadyContributed(uint256 datanetId, address contributor, uint256 index);
    error ReputationTooLow(address contributor, uint256 reputation, uint256 required);
    error InvalidContributionStatus(uint256 datanetId, uint256 index, ContributionStatus status);
    error NotContributor(address caller, address contributor);
    error StakeLocked(uint256 datanetId, uint256 index, uint256 until);
    error NotChallengeable(uint256 datanetId, uint256 index);
    error InvalidManifestCount(uint256 datanetId, uint256 count, uint256 accepted);
    error JobNotFinalized(bytes32 jobId);
    error AttributionAlreadyRecorded(bytes32 jobId);
    error ModelNotBoundToJob(bytes32 modelHash, bytes32 jobId);
    error ManifestMismatch(bytes32 committed, bytes32 onChain);
    error AttributionLeafMismatch(uint256 leafIndex, uint256 leafCount);
    error InvalidProof();
    error WeightsMismatch(uint256 position);

    constructor(
        address authority,
        IERC20 token_,
        JobMarket jobMarket_,
        ModelRegistry modelRegistry_,
        AttributionPool attributionPool_,
        Params memory params_
    ) AccessManaged(authority) {
        token = token_;
        jobMarket = jobMarket_;
        modelRegistry = modelRegistry_;
        attributionPool = attributionPool_;
        _setParams(params_);
        // slashed stakes are deposited into the pool, which pulls them
        token_.forceApprove(address(attributionPool_), type(uint256).max);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Sets every parameter at once (restricted: the PARAMETERS role), within the bounds above.
    function setParams(Params calldata params_) external restricted {
        _setParams(params_);
    }

    function _setParams(Params memory p) private {
        if (
            p.creationBurn > MAX_CREATION_BURN || p.contributionStake == 0
                || p.contributionStake > MAX_CONTRIBUTION_STAKE || p.stakeLockPeriod > MAX_STAKE_LOCK
                || p.challengePeriod < MIN_CHALLENGE_PERIOD || p.challengePeriod > MAX_CHALLENGE_PERIOD
                || p.harmThresholdBps == 0 || p.harmThresholdBps > BPS || p.challengerShareBps > BPS
                || p.maxCurators == 0 || p.maxCurators > MAX_CURATORS
        ) revert InvalidParams();
        _params = p;
        emit ParamsUpdated(p);
    }

    // ---------------------------------------------------------------- datanets

    /// @notice Creates a datanet, burning `creationBurn` OPEN from the caller (needs an allowance).
    function createDatanet(bool curated, uint64 minReputation, bytes32 metadataHash)
        external
        returns (uint256 datanetId)
    {
        uint256 burn = _params.creationBurn;
        datanetId = ++datanetCount;
        _datanets[datanetId] = Datanet({
            creator: msg.sender,
            curated: curated,
            curatorCount: 0,
            contributionCount: 0,
            acceptedCount: 0,
            minReputation: curated ? minReputation : 0,
            metadataHash: metadataHash
        });
        totalBurned += burn;
        emit DatanetCreated(datanetId, msg.sender, curated, curated ? minReputation : 0, metadataHash, burn);
        if (burn > 0) token.safeTransferFrom(msg.sender, BURN_SINK, burn);
    }

    /// @notice The creator adds or removes a curator of its curated datanet.
    function setCurator(uint256 datanetId, address curator, bool enabled) external {
        Datanet storage d = _datanet(datanetId);
        if (msg.sender != d.creator) revert NotCreator(datanetId, msg.sender);
        if (!d.curated) revert NotCurated(datanetId);
        if (isCurator[datanetId][curator] == enabled) return;
        if (enabled) {
            if (d.curatorCount >= _params.maxCurators) revert TooManyCurators(datanetId, _params.maxCurators);
            d.curatorCount += 1;
        } else {
            d.curatorCount -= 1;
        }
        isCurator[datanetId][curator] = enabled;
        emit CuratorSet(datanetId, curator, enabled);
    }

    // ---------------------------------------------------------------- contributions

    /// @notice Registers the caller's data (`dataHash`, `rows` rows) and locks `contributionStake`
    /// OPEN (needs an allowance). One contribution per contributor per datanet (the manifest lists
    /// each address once). Accepted at once in an open datanet, Pending in a curated one.
    function contribute(uint256 datanetId, bytes32 dataHash, uint64 rows) external returns (uint256 index) {
        Datanet storage d = _datanet(datanetId);
        if (dataHash == bytes32(0) || rows == 0) revert InvalidContribution();
        uint256 existing = _contributionOf[datanetId][msg.sender];
        if (existing != 0) revert AlreadyContributed(datanetId, msg.sender, existing - 1);
        if (d.curated) {
            uint256 reputation = reputationOf(msg.sender);
            if (reputation < d.minReputation) revert ReputationTooLow(msg.sender, reputation, d.minReputation);
        }
        uint96 stake = _params.contributionStake;
        index = d.contributionCount++;
        _contributionOf[datanetId][msg.sender] = index + 1;
        Contribution storage c = _contributions[datanetId][index];
        c.contributor = msg.sender;
        c.status = ContributionStatus.Pending;
        c.stake = stake;
        c.rows = rows;
        c.dataHash = dataHash;
        totalStaked += stake;
        emit ContributionSubmitted(datanetId, index, msg.sender, dataHash, rows, stake);
        if (!d.curated) _accept(datanetId, d, index, c);
        token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @notice A curator (or the creator) accepts a pending contribution into the manifest.
    function acceptContribution(uint256 datanetId, uint256 index) external {
        Datanet storage d = _datanet(datanetId);
        _onlyCurator(datanetId, d);
        Contribution storage c = _pending(datanetId, index);
        _accept(datanetId, d, index, c);
    }

    /// @notice A curator (or the creator) rejects a pending contribution; its stake goes back.
    function rejectContribution(uint256 datanetId, uint256 index) external {
        Datanet storage d = _datanet(datanetId);
        _onlyCurator(datanetId, d);
        Contribution storage c = _pending(datanetId, index);
        emit ContributionRejected(datanetId, index, msg.sender);
        // the contributor may submit again (corrected data)
        delete _contributionOf[datanetId][c.contributor];
        _release(datanetId, index, c);
    }

    /// @notice The contributor takes its stake back: a pending contribution at any time (it leaves
    /// the queue), an accepted one once unlocked and not challengeable. An accepted contribution
    /// stays in the manifest: the data was contributed.
    function withdrawStake(uint256 datanetId, uint256 index) external {
        Contribution storage c = _contributions[datanetId][index];
        if (msg.sender != c.contributor) revert NotContributor(msg.sender, c.contributor);
        if (c.status == ContributionStatus.Pending) {
            delete _contributionOf[datanetId][c.contributor];
        } else if (c.status == ContributionStatus.Accepted) {
            uint256 until = c.unlocksAt > c.challengeableUntil ? c.unlocksAt : c.challengeableUntil;
            if (block.timestamp <= until) revert StakeLocked(datanetId, index, until);
        } else {
            revert InvalidContributionStatus(datanetId, index, c.status);
        }
        _release(datanetId, index, c);
    }

    function _accept(uint256 datanetId, Datanet storage d, uint256 index, Contribution storage c) private {
        uint256 position = d.acceptedCount++;
        uint64 startRow =
            position == 0 ? 0 : _contributions[datanetId][_accepted[datanetId][position - 1]].startRow
                + _contributions[datanetId][_accepted[datanetId][position - 1]].rows;
        _accepted[datanetId][position] = index;
        uint40 unlocksAt = uint40(block.timestamp + _params.stakeLockPeriod);
        c.status = ContributionStatus.Accepted;
        c.startRow = startRow;
        c.unlocksAt = unlocksAt;
        emit ContributionAccepted(datanetId, index, position, startRow, unlocksAt);
    }

    function _release(uint256 datanetId, uint256 index, Contribution storage c) private {
        uint256 amount = c.stake;
        c.status = ContributionStatus.Withdrawn;
        c.stake = 0;
        totalStaked -= amount;
        emit StakeWithdrawn(datanetId, index, c.contributor, amount);
        token.safeTransfer(c.contributor, amount);
    }

    // ---------------------------------------------------------------- attribution

    /**
     * @notice Sets `modelHash`'s weights root in the AttributionPool from the attribution result
     * committed by the Finalized training job `offer` describes (jobId = hashJobOffer(offer)), on
     * the manifest of the first `count` accepted contributions of `datanetId`. Anyone may call it,
     * once per job. The result is the job's last leaf, at index checkpointHashes.length, proven
     * against the committed root by `proof`. Updates every contributor's record and opens the
     * challenge period of the contributions it ranks harmful.
     */
    function recordAttribution(
        uint256 datanetId,
        uint256 count,
        bytes32 modelHash,
        JobMarketState.JobOffer calldata offer,
        AttributionResult calldata result,
        bytes32[] calldata proof
    ) external {
        _datanet(datanetId);
        bytes32 jobId = jobMarket.hashJobOffer(offer);
        if (attributionRecorded[jobId]) revert AttributionAlreadyRecorded(jobId);
        if (modelRegistry.trainingJobOf(modelHash) != jobId || !modelRegistry.isLive(modelHash)) {
            revert ModelNotBoundToJob(modelHash, jobId);
        }
        bytes32 expected = manifestHash(datanetId, offer.inputHash, count);
        if (result.manifestHash != expected) revert ManifestMismatch(result.manifestHash, expected);
        bytes32 resultHash = _checkCommitted(jobId, result, proof);
        _checkWeights(datanetId, count, result);
        attributionRecorded[jobId] = true;
        emit AttributionRecorded(datanetId, jobId, modelHash, result.weightsRoot, resultHash, count, result.weights);
        _recordOutcomes(datanetId, modelHash, result);
        attributionPool.setWeights(modelHash, result.weightsRoot, resultHash);
    }

    /// @dev The job is a Finalized training job and the result is its last committed leaf.
    function _checkCommitted(bytes32 jobId, AttributionResult calldata result, bytes32[] calldata proof)
        private
        view
        returns (bytes32 resultHash)
    {
        JobMarketState.Job memory job = jobMarket.getJob(jobId);
        if (job.status != JobMarketState.JobStatus.Finalized || !job.training) revert JobNotFinalized(jobId);
        uint256 leafIndex = result.checkpointHashes.length;
        if (leafIndex + 1 != job.leafCount) revert AttributionLeafMismatch(leafIndex, job.leafCount);
        resultHash = attributionResultHash(result);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(leafIndex, resultHash))));
        if (!MerkleProof.verifyCalldata(proof, job.resultRoot, leaf)) revert InvalidProof();
    }

    /// @dev One weight per manifest contributor, in manifest order, summing to the pool's total.
    function _checkWeights(uint256 datanetId, uint256 count, AttributionResult calldata result) private view {
        if (result.weights.length != count || result.scores.length != count * 8) revert WeightsMismatch(count);
        uint256 sum;
        for (uint256 k; k < count; ++k) {
            address account = _contributions[datanetId][_accepted[datanetId][k]].contributor;
            if (result.weights[k].account != account) revert WeightsMismatch(k);
            sum += result.weights[k].weight;
        }
        if (sum != BPS) revert WeightsMismatch(count);
    }

    function _recordOutcomes(uint256 datanetId, bytes32 modelHash, AttributionResult calldata result) private {
        uint256 count = result.weights.length;
        uint256 maxMagnitude;
        for (uint256 k; k < count; ++k) {
            uint256 m = _magnitudeBits(_scoreAt(result.scores, k));
            if (m > maxMagnitude) maxMagnitude = m;
        }
        uint40 until = uint40(block.timestamp + _params.challengePeriod);
        uint256 threshold = _params.harmThresholdBps;
        for (uint256 k; k < count; ++k) {
            uint256 index = _accepted[datanetId][k];
            Contribution storage c = _contributions[datanetId][index];
            ContributorRecord storage r = _records[c.contributor];
            r.attributions += 1;
            r.weightBpsTotal += uint64(result.weights[k].weight);
            uint64 bits = _scoreAt(result.scores, k);
            if (!_isHarmful(bits, maxMagnitude, threshold)) continue;
            r.harmful += 1;
            // only a stake still held can be challenged
            if (c.status != ContributionStatus.Accepted) continue;
            c.harmfulModel = modelHash;
            c.challengeableUntil = until;
            emit ContributionHarmful(datanetId, index, modelHash, until);
        }
    }

    /// @notice Anyone slashes a contribution ranked harmful, during its challenge period: the
    /// challenger gets `challengerShareBps` of the stake, the model's pool the rest.
    function challengeContribution(uint256 datanetId, uint256 index) external {
        Contribution storage c = _contributions[datanetId][index];
        if (
            c.status != ContributionStatus.Accepted || c.harmfulModel == bytes32(0)
                || block.timestamp > c.challengeableUntil
        ) revert NotChallengeable(datanetId, index);
        uint256 stake = c.stake;
        uint256 reward = stake * _params.challengerShareBps / BPS;
        uint256 toPool = stake - reward;
        c.status = ContributionStatus.Slashed;
        c.stake = 0;
        totalStaked -= stake;
        _records[c.contributor].slashed += 1;
        emit ContributionSlashed(datanetId, index, msg.sender, reward, toPool);
        if (reward > 0) token.safeTransfer(msg.sender, reward);
        if (toPool > 0) attributionPool.deposit(c.harmfulModel, toPool);
    }

    // ---------------------------------------------------------------- hashing

    /// @notice The canonical hash of the manifest of the first `count` accepted contributions for
    /// the dataset file `datasetId`: datanetManifestHash in packages/protocol/src/datanet.ts.
    function manifestHash(uint256 datanetId, bytes32 datasetId, uint256 count) public view returns (bytes32) {
        uint256 accepted = _datanets[datanetId].acceptedCount;
        if (count == 0 || count > accepted) revert InvalidManifestCount(datanetId, count, accepted);
        ManifestEntry[] memory entries = new ManifestEntry[](count);
        uint256 rows;
        for (uint256 k; k < count; ++k) {
            Contribution storage c = _contributions[datanetId][_accepted[datanetId][k]];
            ManifestRange[] memory ranges = new ManifestRange[](1);
            ranges[0] = ManifestRange({start: c.startRow, end: uint256(c.startRow) + c.rows});
            entries[k] = ManifestEntry({account: c.contributor, dataHash: c.dataHash, ranges: ranges});
            rows = ranges[0].end;
        }
        return keccak256(abi.encode(MANIFEST_DOMAIN, uint256(1), datasetId, rows, entries));
    }

    /// @notice attributionResultHash of node/src/attribution/result.ts.
    function attributionResultHash(AttributionResult calldata r) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RESULT_DOMAIN,
                r.methodHash,
                r.manifestHash,
                r.validationHash,
                r.checkpointHashes,
                r.scores,
                r.weights,
                r.weightsRoot
            )
        );
    }

    function _scoreAt(bytes calldata scores, uint256 k) private pure returns (uint64) {
        return uint64(bytes8(scores[k * 8:k * 8 + 8]));
    }

    /// @dev The bits of |score|: for finite float64s their order is the order of the magnitudes.
    function _magnitudeBits(uint64 bits) private pure returns (uint256) {
        return bits & 0x7fffffffffffffff;
    }

    /// @dev score < 0 and |score| >= threshold/BPS * max|score|, in exact integer arithmetic on the
    /// float64 fields. NaN and infinities (exponent all ones) never count as harmful.
    function _isHarmful(uint64 bits, uint256 maxMagnitude, uint256 threshold) private pure returns (bool) {
        if (bits >> 63 == 0 || maxMagnitude == 0) return false;
        uint256 m = _magnitudeBits(bits);
        if (m >> 52 == 0x7ff || maxMagnitude >> 52 == 0x7ff) return false;
        (uint256 mantissa, uint256 exponent) = _split(m);
        (uint256 maxMantissa, uint256 maxExponent) = _split(maxMagnitude);
        // mantissa * 2^exponent * BPS >= threshold * maxMantissa * 2^maxExponent
        uint256 lhs = mantissa * BPS;
        uint256 rhs = threshold * maxMantissa;
        if (maxExponent >= exponent) {
            uint256 shift = maxExponent - exponent;
            if (shift > 128) return false;
            rhs <<= shift;
        } else {
            uint256 shift = exponent - maxExponent;
            if (shift > 128) return true;
            lhs <<= shift;
        }
        return lhs >= rhs;
    }

    /// @dev A float64 magnitude as mantissa * 2^exponent (exponent biased; subnormals handled).
    function _split(uint256 m) private pure returns (uint256 mantissa, uint256 exponent) {
        exponent = m >> 52;
        mantissa = m & ((1 << 52) - 1);
        if (exponent == 0) exponent = 1;
        else mantissa |= 1 << 52;
    }

    // ---------------------------------------------------------------- views

    function _datanet(uint256 datanetId) private view returns (Datanet storage d) {
        d = _datanets[datanetId];
        if (d.creator == address(0)) revert UnknownDatanet(datanetId);
    }

    function _onlyCurator(uint256 datanetId, Datanet storage d) private view {
        if (msg.sender != d.creator && !isCurator[datanetId][msg.sender]) revert NotCurator(datanetId, msg.sender);
    }

    function _pending(uint256 datanetId, uint256 index) private view returns (Contribution storage c) {
        c = _contributions[datanetId][index];
        if (c.status != ContributionStatus.Pending) revert InvalidContributionStatus(datanetId, index, c.status);
    }

    /// @notice Weight earned over all recorded attributions (basis points, summed) less one full
    /// share (10 000) per time its data ranked harmful, floored at zero.
    function reputationOf(address contributor) public view returns (uint256) {
        ContributorRecord storage r = _records[contributor];
        uint256 penalty = uint256(r.harmful) * BPS;
        return r.weightBpsTotal > penalty ? r.weightBpsTotal - penalty : 0;
    }

    function params() external view returns (Params memory) {
        return _params;
    }

    function getDatanet(uint256 datanetId) external view returns (Datanet memory) {
        return _datanets[datanetId];
    }

    function getContribution(uint256 datanetId, uint256 index) external view returns (Contribution memory) {
        return _contributions[datanetId][index];
    }

    /// @notice The contribution index of the `position`-th accepted contribution (manifest order).
    function acceptedAt(uint256 datanetId, uint256 position) external view returns (uint256) {
        return _accepted[datanetId][position];
    }

    function getContributorRecord(address contributor) external view returns (ContributorRecord memory) {
        return _records[contributor];
    }
}
