// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {StakeManager} from "./StakeManager.sol";
import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {ZkVerifierRegistry} from "./ZkVerifierRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {AttributionPool} from "./attribution/AttributionPool.sol";

/// @title JobMarketState: the JobMarket's types, storage, events and errors
/// @notice Shared by the `JobMarket` and its `JobMarketExtension`, which the market runs by
/// delegatecall for every function it does not hold itself. Both inherit exactly this contract
/// and declare no storage of their own, so the extension's code reads and writes the market's
/// storage at the same slots. The immutables are compiled into each contract's code, so the
/// market's constructor checks that the extension was built with the same ones.
/// @dev Why two contracts: the EIP-170 limit (24 576 bytes of runtime code). The market keeps the
/// calls of the job's happy path (award, commit, finalize and their batches, the zk commit); the
/// extension holds governance, disputes, expiry, prepaid balances and the views other contracts
/// do not read. See docs/contracts.md, "Two contracts, one storage".
abstract contract JobMarketState is AccessManaged, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct JobOffer {
        address requester;
        bytes32 modelHash;
        bytes32 inputHash;
        bytes32 specHash;
        uint8 kind;
        uint8 verification;
        uint256 maxPrice;
        uint256 minCollateral;
        uint64 biddingEnds;
        uint64 deadline;
        uint32 sampleCount;
        uint32 microBatchSize;
        uint256 salt;
    }

    struct Bid {
        bytes32 jobId;
        address provider;
        uint256 price;
        uint256 collateral;
        uint64 expiry;
        uint256 nonce;
        uint32 etaSeconds;
    }

    enum JobStatus {
        None,
        Awarded,
        Committed,
        Finalized,
        ProviderSlashed,
        Expired
    }

    /// @notice A job as `getJob` returns it (stored as a `StoredJob`, parties by account id).
    struct Job {
        address requester;
        uint96 price;
        address provider;
        uint96 collateral;
        uint40 deadline;
        uint40 challengeEnds;
        /// @dev fixed at award from the offer; at commit, the count the provider committed
        uint32 leafCount;
        JobStatus status;
        /// @dev a training job: its result may end with one attribution leaf after the checkpoints
        /// (whether the spec asks for one is off-chain; verifiers and jurors hold it to the spec)
        bool training;
        /// @dev the offer's verification mode; in this slot so telling the modes apart reads nothing extra
        uint8 verification;
        /// @dev the attribution share fixed at award (0: the model had no weights, or no pool);
        /// in this slot so a job without attribution reads nothing extra at settlement
        uint16 attributionBps;
        /// @dev the job's terms: the id of the parameter snapshot in force at award
        uint32 termsId;
        /// @dev DisputeCourt disputes open on the job; `finalize` waits until none is left
        uint16 openDisputes;
        /// @dev the challenge window of the job's terms, copied at award (same slot): `commitResult`
        /// opens the window without reading the terms snapshot
        uint32 challengeWindow;
        /// @dev replay: the Merkle root of the results; zk: the proven output commitment. Zero for a
        /// committed replay inference job: its root is in the `ResultCommitted` event of block
        /// `commitBlock` (only zk and training jobs store theirs, see `_commit`)
        bytes32 resultRoot;
        /// @dev the block of a replay job's commit (0 before it, and for zk jobs)
        uint32 commitBlock;
    }

    /// @dev A job in storage: two slots written at award, and a third for the result root of a zk
    /// or training job only. The requester and the provider are stored as account ids (see `_registered`), so
    /// the parties and the amounts share one slot, and every field commit and settlement test
    /// (status, times, provider, leaf count, window, disputes, terms) shares the other.
    struct StoredJob {
        uint96 price;
        uint96 collateral;
        uint32 requesterId;
        /// @dev the price came from the requester's prepaid balance: a refund goes back there
        bool fundedFromBalance;
        /// @dev the provider had opted in to balance payouts when the job was awarded: the payout
        /// is credited to its balance, not transferred (same slot as the price settlement reads)
        bool payoutToBalance;
        // ---- slot 2
        uint40 deadline;
        uint40 challengeEnds;
        uint32 leafCount;
        JobStatus status;
        bool training;
        uint8 verification;
        uint16 attributionBps;
        /// @dev the terms snapshot id (at most 2^16 - 1 governance changes: `_snapshotTerms`)
        uint16 termsId;
        uint16 openDisputes;
        /// @dev until a replay job commits: the challenge window of its terms (copied at award, so
        /// the commit reads no terms snapshot); from the commit on: the commit's block number,
        /// whose `ResultCommitted` event carries the root of a job that does not store it
        uint32 windowOrCommitBlock;
        uint32 providerId;
        // ---- slot 3, written only for zk and training jobs (see `_commit`)
        bytes32 resultRoot;
    }

    /// @dev An account of the market, keyed by address: its id (see `_registered`), its prepaid
    /// and withdrawable balance, and whether its payouts go to that balance. One slot, which
    /// `award` reads anyway for both parties' ids, so drawing the price from the requester's
    /// balance and noting the provider's payout choice read no extra slot.
    struct Account {
        uint32 id;
        /// @dev below the token's supply, which the constructor caps at uint96
        uint96 balance;
        bool payoutToBalance;
    }

    /// @dev What a zk-mode job's proof must match, fixed at award (three slots, deleted at settlement).
    struct ZkTerms {
        uint256 modelCommitment;
        uint256 inputCommitment;
        IGroth16Verifier verifier;
    }

    /// @notice Reputation inputs, one slot per provider.
    struct ProviderRecord {
        uint32 completed;
        uint32 slashed;
        uint32 noShows;
        uint160 totalEarned;
    }

    /// @dev Every value settlement reads, with the fees owed to the treasury, in one slot.
    struct Params {
        uint16 protocolFeeBps;
        uint16 cheatSlashBps;
        uint16 noShowSlashBps;
        uint16 challengerRewardBps;
        uint32 challengeWindow;
        uint160 treasuryAccrued;
    }

    /// @notice The terms a job is bound to at award: a snapshot of the parameters in force then.
    /// Governance changes append a new snapshot and never touch an old one, so a running job is
    /// settled, slashed or expired exactly as the provider and the requester agreed.
    struct Terms {
        uint16 protocolFeeBps;
        uint16 cheatSlashBps;
        uint16 noShowSlashBps;
        uint16 challengerRewardBps;
        uint32 challengeWindow;
        /// @dev jobs priced below this are paid but do not count toward a provider's `completed`
        uint64 minRecordPrice;
        /// @dev fees and slashes owed to the treasury from jobs under these terms. Kept in the
        /// slot settlement reads anyway, so fixing terms at award costs the happy path nothing;
        /// it cannot overflow: the constructor caps the token's supply at uint96.
        uint96 accrued;
    }

    /// @dev Constructor argument: the pool (address(0) for none) and the initial share.
    struct AttributionConfig {
        AttributionPool pool;
        uint16 shareBps;
    }

    /// @notice A job of a compact batch (`awardCompact`), as the batch's id commits to it. Only
    /// the jobs' mutable state is stored (a lane per job, five to a slot); the rest travels in
    /// the calldata of each call on the batch and is checked against the batch id, which is the
    /// keccak256 of the jobs' `keccak256(abi.encode(job))` in order. The fields are a
    /// `StoredJob`'s, for a replay inference job (the only kind a compact batch takes).
    struct CompactJob {
        bytes32 jobId;
        uint96 price;
        uint96 collateral;
        uint32 requesterId;
        uint32 providerId;
        uint40 deadline;
        uint32 leafCount;
        uint16 termsId;
        uint32 challengeWindow;
        uint16 attributionBps;
        bool fundedFromBalance;
        bool payoutToBalance;
        /// @dev the model whose attribution weights take `attributionBps` of the price; zero when none
        bytes32 modelHash;
    }

    bytes32 public constant JOB_OFFER_TYPEHASH = keccak256(
        "JobOffer(address requester,bytes32 modelHash,bytes32 inputHash,bytes32 specHash,uint8 kind,uint8 verification,uint256 maxPrice,uint256 minCollateral,uint64 biddingEnds,uint64 deadline,uint32 sampleCount,uint32 microBatchSize,uint256 salt)"
    );

    bytes32 public constant BID_TYPEHASH = keccak256(
        "Bid(bytes32 jobId,address provider,uint256 price,uint256 collateral,uint64 expiry,uint256 nonce,uint32 etaSeconds)"
    );

    uint8 public constant VERIFICATION_REPLAY = 0;

    uint8 public constant VERIFICATION_ZK = 1;

    uint8 public constant KIND_INFERENCE = 0;

    uint8 public constant KIND_TRAINING = 1;

    uint16 internal constant BPS = 10_000;

    /// @notice Upper bound of `attributionShareBps`: at most half of a job's price goes to the data.
    uint16 public constant MAX_ATTRIBUTION_SHARE_BPS = 5_000;

    /// @dev BN254 scalar field order: every public signal must lie below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice The salt space of compact offers: the salts whose top 32 bits are `COMPACT_SALT_TAG`
    /// ("OCNC"), from `COMPACT_SALT` up. Such an offer goes through `awardCompact` only, every
    /// other offer through `award`/`awardBatch` only, so a job id is stored in one place. A
    /// compact salt's low 224 bits are a number its requester uses once (kept as a bitmap, so
    /// consecutive numbers share a slot: count them up from 0). A tag, not a range: a requester
    /// that draws its salts at random (as the node does) lands in it once in 2^32 draws, and
    /// redraws then.
    uint256 public constant COMPACT_SALT_TAG = 0x4f434e43;
    uint256 public constant COMPACT_SALT = COMPACT_SALT_TAG << 224;
    /// @dev A compact job's lane: status (8 bits) and challengeEnds (40), five to a slot.
    uint256 internal constant LANE_BITS = 51;
    uint256 internal constant LANES_PER_SLOT = 5;
    uint256 internal constant LANE_MASK = (1 << 48) - 1;
    /// @dev The lane status of a compact job written into `_jobs` (`materializeCompactJob`).
    uint256 internal constant LANE_MOVED = 0xff;

    IERC20 public immutable token;

    StakeManager public immutable stakeManager;

    ZkVerifierRegistry public immutable zkVerifierRegistry;

    /// @dev Read once per award: a Revoked model gets no new job (one external call, one SLOAD).
    ModelRegistry public immutable modelRegistry;

    /// @notice Where attribution shares go; address(0): no attribution. Immutable, so a share
    /// fixed at award always lands in the pool that had the model's weights then.
    AttributionPool public immutable attributionPool;

    Params internal _params;

    /// @notice Stake a verifier needs to challenge in the DisputeCourt (the court reads it).
    uint128 public verifierMinStake;

    /// @dev Accounts given an id so far (packed with `verifierMinStake`, read only to register one).
    uint32 internal _accountCount;

    address public treasury;

    /// @notice Share of a job's price paid to the attribution pool for a model with weights, in
    /// basis points (packed with `treasury`; read once per award).
    uint16 public attributionShareBps;

    /// @notice The id of the terms a job awarded now is bound to (same slot: no extra read per award).
    uint32 public currentTermsId;

    /// @dev The challenge window of terms `currentTermsId`, mirrored here (same slot) so an award
    /// copies it into the job and a commit reads no terms snapshot to open the window.
    uint32 internal _currentChallengeWindow;

    /// @dev Append-only parameter snapshots, ids 0 .. `currentTermsId`; a job's `termsId` keys it.
    /// A mapping, not an array: reading a job's terms then costs no length check.
    mapping(uint256 termsId => Terms) internal _terms;

    mapping(bytes32 jobId => StoredJob) internal _jobs;

    /// @dev Requesters and providers by a 4-byte id, given at an account's first award (ids from 1):
    /// a job then stores both parties with its amounts in one slot instead of two. The id shares
    /// its slot with the account's prepaid balance and payout choice (`Account`).
    mapping(address account => Account) internal _accountOf;

    mapping(uint256 id => address account) internal _accounts;

    mapping(bytes32 jobId => ZkTerms) internal _zkTerms;

    /// @dev Model of a job that owes an attribution share (only those: one slot, deleted when the job ends).
    mapping(bytes32 jobId => bytes32 modelHash) internal _attributedModel;

    mapping(address provider => ProviderRecord) internal _records;

    /// @dev Used bid nonces as a bitmap (256 per word), so sequential nonces mostly rewrite a warm-ish
    /// non-zero word instead of creating a new slot per bid.
    mapping(address provider => mapping(uint256 word => uint256 bits)) internal _nonceBitmap;
    /// @dev Compact batches: each job's lane (`LANE_BITS`), `LANES_PER_SLOT` to a slot, by batch id.
    mapping(bytes32 batchId => mapping(uint256 slot => uint256 lanes)) internal _compactLanes;
    /// @dev Used compact-offer salts (their low 224 bits) per requester, as a bitmap.
    mapping(address requester => mapping(uint256 word => uint256 bits)) internal _compactSalts;

    /// @notice A compact batch was awarded: `jobs` holds 7 bytes per job in order (provider id,
    /// 4 bytes; attribution share in bps, 2; flags, 1: bit 0 the price came from the requester's
    /// balance, bit 1 the payout goes to the provider's balance). With the `JobAwarded` events
    /// of the same transaction (one per job, in order) they rebuild each job's `CompactJob`.
    event CompactBatchAwarded(
        bytes32 indexed batchId,
        address indexed requester,
        uint32 requesterId,
        uint16 termsId,
        uint32 challengeWindow,
        bytes jobs
    );
    /// @notice The provider committed jobs `indices` of a compact batch with these result roots
    /// (in place of a `ResultCommitted` per job; their windows end `challengeEnds`).
    event CompactCommitted(
        bytes32 indexed batchId, address indexed provider, uint256[] indices, bytes32[] resultRoots, uint64 challengeEnds
    );
    /// @notice Jobs `indices` of a compact batch were paid out (in place of a `JobFinalized` per
    /// job: each payout is its price less the fee and attribution share of its terms).
    event CompactFinalized(bytes32 indexed batchId, uint256[] indices);
    /// @notice Job `index` of a compact batch now lives in `_jobs` like any other job.
    event CompactJobMaterialized(bytes32 indexed batchId, bytes32 indexed jobId, uint256 index);
    event JobAwarded(
        bytes32 indexed jobId,
        address indexed requester,
        address indexed provider,
        uint256 price,
        uint256 collateral,
        bytes32 modelHash,
        bytes32 inputHash,
        bytes32 specHash,
        uint8 kind,
        uint8 verification,
        uint64 deadline,
        uint32 sampleCount,
        uint32 microBatchSize
    );

    event ResultCommitted(
        bytes32 indexed jobId, address indexed provider, bytes32 resultRoot, uint32 leafCount, uint64 challengeEnds
    );

    /// @notice The DisputeCourt's jury convicted the job's provider (see `convict`).
    event ProviderConvicted(
        bytes32 indexed jobId, address indexed challenger, uint256 penalty, uint256 challengerReward, uint256 juryReward
    );

    /// @notice A zk-mode job was awarded: the proof must carry these commitments and pass this verifier.
    event ZkJobAwarded(
        bytes32 indexed jobId,
        bytes32 indexed modelHash,
        uint256 modelCommitment,
        uint256 inputCommitment,
        address verifier
    );

    /// @notice A zk-mode result was proven; `JobFinalized` follows in the same transaction.
    event ZkResultCommitted(
        bytes32 indexed jobId, address indexed provider, uint256 inputCommitment, uint256 outputCommitment
    );

    event JobFinalized(bytes32 indexed jobId, address indexed provider, uint256 payout, uint256 fee);

    /// @notice `finalizeBatch` left this job as it was: its status is not Committed, its challenge
    /// window is still open, or a dispute is open on it (`finalize` says which).
    event FinalizeSkipped(bytes32 indexed jobId, JobStatus status);

    /// @notice A paid-out job sent `amount` to the attribution pool for `modelHash` (right before `JobFinalized`).
    event AttributionPaid(bytes32 indexed jobId, bytes32 indexed modelHash, uint256 amount);

    event AttributionShareUpdated(uint16 attributionShareBps);

    /// @notice Jobs awarded from now on are bound to terms `termsId` (these values).
    event TermsSnapshotted(
        uint32 indexed termsId,
        uint16 protocolFeeBps,
        uint16 cheatSlashBps,
        uint16 noShowSlashBps,
        uint16 challengerRewardBps,
        uint32 challengeWindow,
        uint64 minRecordPrice
    );

    /// @notice `provider` withdrew the bids signed with the nonces `word * 256 + i` for each bit i of `mask`.
    event NoncesInvalidated(address indexed provider, uint256 indexed word, uint256 mask);

    event JobExpired(bytes32 indexed jobId, address indexed provider, uint256 refund, uint256 slashed);

    event TreasurySwept(address indexed treasury, uint256 amount);

    /// @notice `account` paid `amount` into its prepaid balance (now `balance`).
    event BalanceDeposited(address indexed account, uint256 amount, uint256 balance);

    /// @notice `account` took `amount` out of its balance (now `balance`).
    event BalanceWithdrawn(address indexed account, uint256 amount, uint256 balance);

    /// @notice Jobs awarded to `account` from now on pay out to its balance (`enabled`) or by transfer.
    event PayoutToBalanceSet(address indexed account, bool enabled);

    event ParamsUpdated(
        uint16 protocolFeeBps,
        uint16 cheatSlashBps,
        uint16 noShowSlashBps,
        uint16 challengerRewardBps,
        uint32 challengeWindow,
        uint128 verifierMinStake,
        address treasury
    );

    /// @dev The offer's salt is in the other award's space (`COMPACT_SALT_TAG`): a compact offer
    /// (`compact` true: this was `awardCompact`) needs a salt with the tag, any other one without.
    error SaltSpaceMismatch(bytes32 jobId, bool compact);
    /// @dev A compact offer whose salt its requester already used (the same offer awarded twice).
    error SaltAlreadyUsed(address requester, uint256 salt);
    /// @dev A compact batch takes replay inference offers only (no training, no zk).
    error NotCompactable(bytes32 jobId);
    /// @dev A compact batch call named job `index` of a batch of `count` jobs.
    error CompactIndexOutOfRange(uint256 index, uint256 count);
    error NotRequester(address caller, address requester);

    error NotProvider(address caller, address provider);

    error ZkModelNotRegistered(bytes32 modelHash);

    error ModelRevoked(bytes32 modelHash);

    error VerificationModeMismatch(bytes32 jobId, uint8 verification);

    error PublicSignalOutOfField(uint256 index, uint256 value);

    error InputCommitmentMismatch(bytes32 jobId, uint256 expected, uint256 actual);

    error InvalidZkProof(bytes32 jobId);

    error InvalidOffer(bytes32 jobId);

    error OfferDeadlinePassed(bytes32 jobId, uint64 deadline);

    error BidJobMismatch(bytes32 bidJobId, bytes32 jobId);

    error BidExpired(uint64 expiry, uint64 now_);

    error PriceAboveMax(uint256 price, uint256 maxPrice);

    error CollateralBelowMin(uint256 collateral, uint256 minCollateral);

    error NonceAlreadyUsed(address provider, uint256 nonce);

    error InvalidBidSignature(address provider);

    error JobAlreadyAwarded(bytes32 jobId);

    error InvalidJobStatus(bytes32 jobId, JobStatus status);

    error CommitDeadlinePassed(bytes32 jobId, uint64 deadline);

    error EmptyCommitment();

    error ChallengeWindowClosed(bytes32 jobId, uint64 challengeEnds);

    error ChallengeWindowOpen(bytes32 jobId, uint64 challengeEnds);

    error DeadlineNotPassed(bytes32 jobId, uint64 deadline);

    error DisputeOpen(bytes32 jobId, uint16 openDisputes);

    error InvalidParameter(string name);

    /// @dev An award after the offer's bidding end: providers price and hold collateral for the
    /// bidding window only, and a late award could land too close to the deadline to deliver.
    error BiddingClosed(bytes32 jobId, uint64 biddingEnds);

    /// @dev The bid's promised delivery time no longer fits before the deadline: the award would
    /// turn the provider into a no-show. Award earlier or pick a faster bid.
    error EtaPastDeadline(bytes32 jobId, uint256 readyAt, uint64 deadline);

    /// @dev The requester named itself as the provider (paying itself to inflate a record).
    error SelfAward(address account);

    /// @dev The committed leaf count differs from the one the job's terms fixed at award.
    error LeafCountMismatch(bytes32 jobId, uint32 expected, uint32 actual);

    /// @dev A batch call's arrays are empty or of different lengths.
    error BatchLengthMismatch();

    /// @dev `withdraw` of more than the caller's balance (`getAccount` reads it).
    error InsufficientMarketBalance(address account, uint256 balance, uint256 amount);

    /// @dev The job's provider (address(0) for no job).
    function _providerOf(StoredJob storage job) internal view returns (address) {
        return _accounts[job.providerId];
    }

    function _checkParams(Params memory p) internal view {
        if (p.protocolFeeBps > BPS) revert InvalidParameter("protocolFeeBps");
        if (p.cheatSlashBps > BPS) revert InvalidParameter("cheatSlashBps");
        if (p.noShowSlashBps > BPS) revert InvalidParameter("noShowSlashBps");
        if (p.challengerRewardBps > BPS) revert InvalidParameter("challengerRewardBps");
        if (p.challengeWindow == 0 || p.challengeWindow > stakeManager.unbondingDelay()) {
            revert InvalidParameter("challengeWindow");
        }
    }

    function _checkAttributionShare(uint16 share, uint16 protocolFeeBps) internal pure {
        if (share > MAX_ATTRIBUTION_SHARE_BPS || uint256(share) + protocolFeeBps > BPS) {
            revert InvalidParameter("attributionShareBps");
        }
    }

    /// @dev Writes the parameters in force now as terms `id`, the terms of jobs awarded from now
    /// on: the constructor writes id 0, every later change the next id.
    function _snapshotTerms(uint256 id, uint64 minRecordPrice_) internal {
        Params memory p = _params;
        _terms[id] = (
            Terms({
                protocolFeeBps: p.protocolFeeBps,
                cheatSlashBps: p.cheatSlashBps,
                noShowSlashBps: p.noShowSlashBps,
                challengerRewardBps: p.challengerRewardBps,
                challengeWindow: p.challengeWindow,
                minRecordPrice: minRecordPrice_,
                accrued: 0
            })
        );
        // a job stores its terms id in 16 bits: 65 535 governance changes is far beyond any plausible count
        currentTermsId = SafeCast.toUint16(id);
        _currentChallengeWindow = p.challengeWindow;
        emit TermsSnapshotted(
            uint32(id),
            p.protocolFeeBps,
            p.cheatSlashBps,
            p.noShowSlashBps,
            p.challengerRewardBps,
            p.challengeWindow,
            minRecordPrice_
        );
    }

    /// @dev The terms `job` was awarded under (fees, slash fractions, reward share, window).
    /// Settlement, expiry and dispute outcomes read these, never the current parameters.
    /// Fees and slashes owed to the treasury may be added to its `accrued` (swept like the rest).
    function _termsOf(StoredJob storage job) internal view returns (Terms storage) {
        return _terms[job.termsId];
    }

    function _emitParams() internal {
        Params memory p = _params;
        emit ParamsUpdated(
            p.protocolFeeBps,
            p.cheatSlashBps,
            p.noShowSlashBps,
            p.challengerRewardBps,
            p.challengeWindow,
            verifierMinStake,
            treasury
        );
    }

    /// @dev Whether `salt` is in the compact salt space (`COMPACT_SALT_TAG`).
    function _isCompactSalt(uint256 salt) internal pure returns (bool) {
        return salt >> 224 == COMPACT_SALT_TAG;
    }

    /// @dev The id of the compact batch of `jobs`: it exists only if `awardCompact` wrote its lanes.
    function _batchIdOf(CompactJob[] calldata jobs) internal pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](jobs.length);
        for (uint256 i; i < jobs.length; ++i) {
            hashes[i] = keccak256(abi.encode(jobs[i]));
        }
        return keccak256(abi.encodePacked(hashes));
    }

    /// @dev Job `i`'s lane of batch `batchId`: status | challengeEnds << 8.
    function _lane(bytes32 batchId, uint256 i) internal view returns (uint256) {
        return (_compactLanes[batchId][i / LANES_PER_SLOT] >> ((i % LANES_PER_SLOT) * LANE_BITS)) & LANE_MASK;
    }

    function _setLane(bytes32 batchId, uint256 i, uint256 lane) internal {
        mapping(uint256 => uint256) storage slots = _compactLanes[batchId];
        uint256 shift = (i % LANES_PER_SLOT) * LANE_BITS;
        uint256 slot = i / LANES_PER_SLOT;
        slots[slot] = (slots[slot] & ~(LANE_MASK << shift)) | (lane << shift);
    }

    /// @dev A lane's status as a `JobStatus`; a job moved to `_jobs` reports its status there.
    function _laneStatus(bytes32 jobId, uint256 lane) internal view returns (JobStatus) {
        uint256 status = lane & 0xff;
        return status == LANE_MOVED ? _jobs[jobId].status : JobStatus(status);
    }

    /// @dev `authority` is the AccessManager for the market and address(0) for its extension,
    /// whose own storage is never used (every call to it that matters is a delegatecall).
    constructor(
        IERC20 token_,
        StakeManager stakeManager_,
        ZkVerifierRegistry zkVerifierRegistry_,
        ModelRegistry modelRegistry_,
        AttributionPool attributionPool_,
        address authority
    ) AccessManaged(authority) EIP712("OCN JobMarket", "1") {
        token = token_;
        stakeManager = stakeManager_;
        zkVerifierRegistry = zkVerifierRegistry_;
        modelRegistry = modelRegistry_;
        attributionPool = attributionPool_;
    }
}
