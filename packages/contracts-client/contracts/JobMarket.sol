// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {StakeManager} from "./StakeManager.sol";
import {IGroth16Verifier, ZkJobBinding} from "./IGroth16Verifier.sol";
import {ZkVerifierRegistry} from "./ZkVerifierRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {AttributionPool} from "./attribution/AttributionPool.sol";

/// @title JobMarket: escrow, commitments, disputes and settlement of compute jobs
/// @notice A requester awards its job offer to a provider's EIP-712 signed bid, escrowing the
/// price in OPEN while the provider's collateral is locked in the StakeManager. The provider
/// commits a Merkle root over its results, which opens a challenge window; staked verifiers
/// dispute it in the DisputeCourt, whose jury decides (the COURT role holds the job while a
/// dispute is open and convicts). Settlement pays the provider (minus the protocol fee),
/// refunds the requester, or slashes.
/// In verification mode 1 (zk) the provider instead proves its result with a Groth16 proof,
/// checked by the verifier the ZkVerifierRegistry names for the offer's model, and the job
/// settles in the same transaction with no challenge window.
/// With an AttributionPool configured, a job whose model had attribution weights when it was
/// awarded also sends `attributionShareBps` of its price to the pool when it pays out.
/// Any account may keep a prepaid balance here (`deposit`, `withdraw`): an award takes the price
/// from it when it covers the price, and a provider may have its payouts credited to it
/// (`setPayoutToBalance`), which saves the token transfer each would otherwise make.
/// @dev The struct and type strings below must match packages/protocol/src/eip712.ts exactly.
contract JobMarket is AccessManaged, EIP712, ReentrancyGuardTransient {
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
    uint16 private constant BPS = 10_000;
    /// @notice Upper bound of `attributionShareBps`: at most half of a job's price goes to the data.
    uint16 public constant MAX_ATTRIBUTION_SHARE_BPS = 5_000;
    /// @dev BN254 scalar field order: every public signal must lie below it.
    uint256 public constant SNARK_SCALAR_FIELD =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    IERC20 public immutable token;
    StakeManager public immutable stakeManager;
    ZkVerifierRegistry public immutable zkVerifierRegistry;
    /// @dev Read once per award: a Revoked model gets no new job (one external call, one SLOAD).
    ModelRegistry public immutable modelRegistry;
    /// @notice Where attribution shares go; address(0): no attribution. Immutable, so a share
    /// fixed at award always lands in the pool that had the model's weights then.
    AttributionPool public immutable attributionPool;

    Params private _params;
    /// @notice Stake a verifier needs to challenge in the DisputeCourt (the court reads it).
    uint128 public verifierMinStake;
    /// @dev Accounts given an id so far (packed with `verifierMinStake`, read only to register one).
    uint32 private _accountCount;
    address public treasury;
    /// @notice Share of a job's price paid to the attribution pool for a model with weights, in
    /// basis points (packed with `treasury`; read once per award).
    uint16 public attributionShareBps;
    /// @notice The id of the terms a job awarded now is bound to (same slot: no extra read per award).
    uint32 public currentTermsId;
    /// @dev The challenge window of terms `currentTermsId`, mirrored here (same slot) so an award
    /// copies it into the job and a commit reads no terms snapshot to open the window.
    uint32 private _currentChallengeWindow;
    /// @dev Append-only parameter snapshots, ids 0 .. `currentTermsId`; a job's `termsId` keys it.
    /// A mapping, not an array: reading a job's terms then costs no length check.
    mapping(uint256 termsId => Terms) private _terms;

    mapping(bytes32 jobId => StoredJob) private _jobs;
    /// @dev Requesters and providers by a 4-byte id, given at an account's first award (ids from 1):
    /// a job then stores both parties with its amounts in one slot instead of two. The id shares
    /// its slot with the account's prepaid balance and payout choice (`Account`).
    mapping(address account => Account) private _accountOf;
    mapping(uint256 id => address account) private _accounts;
    mapping(bytes32 jobId => ZkTerms) private _zkTerms;
    /// @dev Model of a job that owes an attribution share (only those: one slot, deleted when the job ends).
    mapping(bytes32 jobId => bytes32 modelHash) private _attributedModel;
    mapping(address provider => ProviderRecord) private _records;
    /// @dev Used bid nonces as a bitmap (256 per word), so sequential nonces mostly rewrite a warm-ish
    /// non-zero word instead of creating a new slot per bid.
    mapping(address provider => mapping(uint256 word => uint256 bits)) private _nonceBitmap;

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

    constructor(
        IERC20 token_,
        StakeManager stakeManager_,
        ZkVerifierRegistry zkVerifierRegistry_,
        ModelRegistry modelRegistry_,
        address authority,
        address treasury_,
        Params memory params_,
        uint128 verifierMinStake_,
        uint64 minRecordPrice_,
        AttributionConfig memory attribution
    ) AccessManaged(authority) EIP712("OCN JobMarket", "1") {
        AttributionPool attributionPool_ = attribution.pool;
        uint16 attributionShareBps_ = attribution.shareBps;
        token = token_;
        stakeManager = stakeManager_;
        zkVerifierRegistry = zkVerifierRegistry_;
        modelRegistry = modelRegistry_;
        attributionPool = attributionPool_;
        params_.treasuryAccrued = 0;
        _checkParams(params_);
        if (treasury_ == address(0)) revert InvalidParameter("treasury");
        // every amount this contract books fits a uint96 (prices, collateral, `Terms.accrued`)
        if (token_.totalSupply() > type(uint96).max) revert InvalidParameter("token");
        _params = params_;
        verifierMinStake = verifierMinStake_;
        treasury = treasury_;
        _checkAttributionShare(attributionShareBps_, params_.protocolFeeBps);
        attributionShareBps = attributionShareBps_;
        _snapshotTerms(0, minRecordPrice_);
        // The pool pulls each share with `deposit` (transferFrom), so it only ever books tokens
        // it actually received; one standing approval keeps that to a single call per payout.
        if (address(attributionPool_) != address(0)) {
            token_.forceApprove(address(attributionPool_), type(uint256).max);
        }
        _emitParams();
        emit AttributionShareUpdated(attributionShareBps_);
    }

    // ---------------------------------------------------------------- award

    /// @notice Awards `offer` to the provider of the signed `bid`, pulling `bid.price` from the
    /// requester (needs an allowance) and locking `bid.collateral` of the provider's stake.
    function award(JobOffer calldata offer, Bid calldata bid, bytes calldata signature)
        external
        nonReentrant
        returns (bytes32 jobId)
    {
        return _awardOne(offer, bid, signature);
    }

    /// @dev One award with its collateral lock and escrow (`award`, `awardWithPermit`).
    function _awardOne(JobOffer calldata offer, Bid calldata bid, bytes calldata signature)
        private
        returns (bytes32 jobId)
    {
        bool fromBalance;
        (jobId, fromBalance) = _award(offer, bid, signature, _checkModel(offer.modelHash));
        stakeManager.lock(bid.provider, bid.collateral);
        if (!fromBalance) _escrow(bid.price);
    }

    /// @notice Awards several offers in one transaction, each to its signed bid, with one escrow
    /// transfer of the summed prices. All or nothing: any award that `award` would refuse reverts
    /// the whole batch with that award's error (the requester fixes its own input and resends).
    /// The job ids are the offers' `hashJobOffer` (and in the `JobAwarded` events).
    /// Consecutive bids of one provider lock their summed collateral with one StakeManager call,
    /// and consecutive offers of one model ask the model and attribution registries once, so list
    /// a provider's (and a model's) jobs together.
    function awardBatch(JobOffer[] calldata offers, Bid[] calldata bids, bytes[] calldata signatures)
        external
        nonReentrant
    {
        uint256 n = offers.length;
        if (n == 0 || bids.length != n || signatures.length != n) revert BatchLengthMismatch();
        uint256 total;
        address provider = bids[0].provider;
        uint256 locked;
        bytes32 modelHash;
        uint16 share;
        for (uint256 i; i < n; ++i) {
            JobOffer calldata offer = offers[i];
            Bid calldata bid = bids[i];
            if (i == 0 || offer.modelHash != modelHash) {
                modelHash = offer.modelHash;
                share = _checkModel(modelHash);
            }
            (, bool fromBalance) = _award(offer, bid, signatures[i], share);
            if (bid.provider != provider) {
                stakeManager.lock(provider, locked);
                (provider, locked) = (bid.provider, 0);
            }
            // each price and collateral was cast to a uint96 in `_award`, at most 2^32 of them
            unchecked {
                if (!fromBalance) total += bid.price;
                locked += bid.collateral;
            }
        }
        // all or nothing: a provider short of free stake for its run reverts the whole batch
        stakeManager.lock(provider, locked);
        if (total != 0) _escrow(total);
    }

    /// @notice As `award`, with an ERC-2612 permit for the escrow instead of a prior approval.
    /// @dev The permit is tried, not required: if someone front-ran it the allowance is already
    /// there and the transfer succeeds; otherwise the transfer reverts.
    function awardWithPermit(
        JobOffer calldata offer,
        Bid calldata bid,
        bytes calldata signature,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (bytes32 jobId) {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), bid.price, permitDeadline, v, r, s) {}
            catch {}
        return _awardOne(offer, bid, signature);
    }

    /// @dev Checks and records one award of a model `_checkModel` accepted, with the attribution
    /// share it returned; the caller locks the collateral and, unless `fromBalance` (the price
    /// came out of the requester's prepaid balance), pulls the escrow.
    function _award(JobOffer calldata offer, Bid calldata bid, bytes calldata signature, uint16 share)
        private
        returns (bytes32 jobId, bool fromBalance)
    {
        if (offer.requester != msg.sender) revert NotRequester(msg.sender, offer.requester);
        jobId = hashJobOffer(offer);
        if (offer.verification > VERIFICATION_ZK || offer.kind > 1) revert InvalidOffer(jobId);
        if (block.timestamp >= offer.deadline) revert OfferDeadlinePassed(jobId, offer.deadline);
        if (block.timestamp > offer.biddingEnds) revert BiddingClosed(jobId, offer.biddingEnds);
        if (bid.jobId != jobId) revert BidJobMismatch(bid.jobId, jobId);
        if (block.timestamp > bid.expiry) revert BidExpired(bid.expiry, uint64(block.timestamp));
        uint256 readyAt;
        unchecked {
            readyAt = block.timestamp + bid.etaSeconds; // a uint32 on a timestamp: no overflow
        }
        if (readyAt > offer.deadline) revert EtaPastDeadline(jobId, readyAt, offer.deadline);
        if (bid.provider == msg.sender) revert SelfAward(msg.sender);
        if (bid.price > offer.maxPrice) revert PriceAboveMax(bid.price, offer.maxPrice);
        if (bid.collateral < offer.minCollateral) revert CollateralBelowMin(bid.collateral, offer.minCollateral);

        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.None) revert JobAlreadyAwarded(jobId);
        _useNonce(bid.provider, bid.nonce);
        {
            (address signer, ECDSA.RecoverError err,) =
                ECDSA.tryRecoverCalldata(_hashTypedDataV4(hashBid(bid)), signature);
            if (err != ECDSA.RecoverError.NoError || signer != bid.provider) revert InvalidBidSignature(bid.provider);
        }

        fromBalance = _storeAwarded(job, offer, bid, _leafCountOf(jobId, offer));
        if (offer.verification == VERIFICATION_ZK) _bindZkTerms(jobId, job, offer);
        if (share != 0) {
            job.attributionBps = share;
            _attributedModel[jobId] = offer.modelHash;
        }
        _emitAwarded(jobId, offer, bid);
    }

    /// @dev Pulls `amount` from the requester into escrow (needs its allowance or a permit).
    function _escrow(uint256 amount) private {
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @dev A zk-mode offer names its model by artifact hash (as every offer does) and carries the
    /// input commitment (the Poseidon hash of the quantized input, the circuit's second public
    /// signal) in `inputHash`: the provider signed the offer through its job id, so both sides
    /// agreed on exactly which input the proof must be about. The registry entry is copied, so a
    /// later change to it does not strand a job already awarded.
    function _bindZkTerms(bytes32 jobId, StoredJob storage job, JobOffer calldata offer) private {
        (uint256 modelCommitment, IGroth16Verifier verifier) = zkVerifierRegistry.getZkModel(offer.modelHash);
        if (address(verifier) == address(0)) revert ZkModelNotRegistered(offer.modelHash);
        uint256 inputCommitment = uint256(offer.inputHash);
        if (inputCommitment >= SNARK_SCALAR_FIELD) revert PublicSignalOutOfField(1, inputCommitment);
        job.verification = VERIFICATION_ZK;
        _zkTerms[jobId] =
            ZkTerms({modelCommitment: modelCommitment, inputCommitment: inputCommitment, verifier: verifier});
        emit ZkJobAwarded(jobId, offer.modelHash, modelCommitment, inputCommitment, address(verifier));
    }

    /// @dev Refuses a revoked model and returns the attribution share an award of it fixes now,
    /// when the price is agreed: the provider bid knowing what it will be paid, and a later change
    /// of the share or of the weights never changes a running job. A model without weights (or
    /// with no pool) owes nothing, so no deposit can sit in the pool's `pending` with no weights to
    /// settle it under (weights, once set, are never removed). `awardBatch` asks once per run of
    /// offers of one model.
    function _checkModel(bytes32 modelHash) private view returns (uint16 share) {
        // Only revocation blocks an award: unknown, proposed, approved and deprecated models still
        // trade here, and nodes that want approved models only filter offers themselves.
        if (modelRegistry.modelStatus(modelHash) == ModelRegistry.ModelStatus.Revoked) {
            revert ModelRevoked(modelHash);
        }
        if (address(attributionPool) == address(0)) return 0;
        share = attributionShareBps;
        if (share != 0 && !attributionPool.hasWeights(modelHash)) share = 0;
    }

    function _emitAwarded(bytes32 jobId, JobOffer calldata offer, Bid calldata bid) private {
        emit JobAwarded(
            jobId,
            offer.requester,
            bid.provider,
            bid.price,
            bid.collateral,
            offer.modelHash,
            offer.inputHash,
            offer.specHash,
            offer.kind,
            offer.verification,
            offer.deadline,
            offer.sampleCount,
            offer.microBatchSize
        );
    }

    /// @dev Writes the awarded job's second slot, and through `_storeParties` its first. Every
    /// value is computed (and every cast checked) before the first write, so the writes to each
    /// slot sit together with no branch between them and the optimizer keeps the slot's value
    /// instead of reloading it per field.
    /// The price comes out of the requester's prepaid balance when that covers it (`fromBalance`;
    /// the account slot was read for its id anyway), else the caller pulls it by `transferFrom`.
    function _storeAwarded(StoredJob storage job, JobOffer calldata offer, Bid calldata bid, uint32 leafCount)
        private
        returns (bool fromBalance)
    {
        uint32 providerId;
        (fromBalance, providerId) = _storeParties(job, bid);
        uint40 deadline = SafeCast.toUint40(offer.deadline);
        // below 2^16 (`_snapshotTerms`)
        uint16 termsId = uint16(currentTermsId);
        uint32 window = _currentChallengeWindow;
        job.deadline = deadline;
        job.status = JobStatus.Awarded;
        job.leafCount = leafCount;
        job.training = offer.kind == KIND_TRAINING;
        job.termsId = termsId;
        job.windowOrCommitBlock = window;
        job.providerId = providerId;
    }

    /// @dev Writes the job's first slot (amounts, requester, where the money comes from and goes)
    /// after every read, as `_storeAwarded` does the second.
    function _storeParties(StoredJob storage job, Bid calldata bid)
        private
        returns (bool fromBalance, uint32 providerId)
    {
        uint96 price = SafeCast.toUint96(bid.price);
        uint96 collateral = SafeCast.toUint96(bid.collateral);
        Account storage requester = _registered(msg.sender);
        Account storage provider = _registered(bid.provider);
        uint32 requesterId = requester.id;
        providerId = provider.id;
        bool payoutToBalance = provider.payoutToBalance;
        uint96 balance = requester.balance;
        fromBalance = balance != 0 && balance >= price;
        if (fromBalance) {
            unchecked {
                requester.balance = balance - price;
            }
        }
        job.price = price;
        job.collateral = collateral;
        job.requesterId = requesterId;
        job.fundedFromBalance = fromBalance;
        job.payoutToBalance = payoutToBalance;
    }

    /// @dev The account, given an id at its first award (two new slots once per account, one if
    /// it deposited or chose its payouts before).
    function _registered(address account) private returns (Account storage a) {
        a = _accountOf[account];
        if (a.id == 0) {
            uint32 id = ++_accountCount;
            a.id = id;
            _accounts[id] = account;
        }
    }

    /// @dev The job's provider (address(0) for no job).
    function _providerOf(StoredJob storage job) private view returns (address) {
        return _accounts[job.providerId];
    }

    /// @dev The number of result leaves the job's terms fix, so a provider cannot pick its own
    /// (inflating it sends sampled indices out of the real range, where a replay proves nothing).
    /// Inference: one leaf per micro-batch, ceil(sampleCount / microBatchSize). Training: one leaf
    /// per checkpoint; a training offer carries the optimizer step count in `sampleCount` and the
    /// checkpoint interval in `microBatchSize`, and checkpoints sit at steps 0, k, 2k, ... and at the
    /// final step, so ceil(sampleCount / microBatchSize) + 1; a training result may add one
    /// attribution leaf after them (commitResult accepts the count with or without it). A zk offer
    /// carries 1 and 1.
    function _leafCountOf(bytes32 jobId, JobOffer calldata offer) private pure returns (uint32) {
        uint256 perLeaf = offer.microBatchSize;
        if (perLeaf == 0) revert InvalidOffer(jobId);
        uint256 leaves;
        unchecked {
            // two uint32s and a 1: far from overflowing
            leaves = (uint256(offer.sampleCount) + perLeaf - 1) / perLeaf;
            if (offer.kind == KIND_TRAINING) ++leaves;
        }
        if (leaves == 0 || leaves > type(uint32).max) revert InvalidOffer(jobId);
        return uint32(leaves);
    }

    function _useNonce(address provider, uint256 nonce) private {
        mapping(uint256 => uint256) storage words = _nonceBitmap[provider];
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = words[nonce >> 8];
        if (word & bit != 0) revert NonceAlreadyUsed(provider, nonce);
        words[nonce >> 8] = word | bit;
    }

    // ---------------------------------------------------------------- provider

    /// @notice Withdraws the caller's bids signed with nonces `word * 256 + i`, for each bit i set
    /// in `mask`: such a bid can no longer be awarded (a signed bid is otherwise good until its
    /// expiry). Marking a nonce already used or invalidated is harmless.
    function invalidateNonces(uint256 word, uint256 mask) external {
        _nonceBitmap[msg.sender][word] |= mask;
        emit NoncesInvalidated(msg.sender, word, mask);
    }

    /// @notice Commits the Merkle root over the job's result leaves
    /// (leaf = keccak256(keccak256(abi.encode(uint256 index, bytes32 dataHash))), sorted-pair
    /// tree) and opens the challenge window (the length in the job's terms). `leafCount` must be
    /// the count the terms fixed at award (`getJob(jobId).leafCount`), or for a training job that
    /// count plus its attribution leaf; the committed count is stored in its place.
    function commitResult(bytes32 jobId, bytes32 resultRoot, uint32 leafCount) external {
        _commit(jobId, resultRoot, leafCount);
    }

    /// @notice Commits several of the caller's jobs at once, each as `commitResult` would. All or
    /// nothing: one commit `commitResult` would refuse reverts the batch with its error.
    function commitBatch(bytes32[] calldata jobIds, bytes32[] calldata resultRoots, uint32[] calldata leafCounts)
        external
    {
        uint256 n = jobIds.length;
        if (n == 0 || resultRoots.length != n || leafCounts.length != n) revert BatchLengthMismatch();
        for (uint256 i; i < n; ++i) {
            _commit(jobIds[i], resultRoots[i], leafCounts[i]);
        }
    }

    function _commit(bytes32 jobId, bytes32 resultRoot, uint32 leafCount) private {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Awarded) revert InvalidJobStatus(jobId, job.status);
        if (_accountOf[msg.sender].id != job.providerId) revert NotProvider(msg.sender, _providerOf(job));
        if (block.timestamp > job.deadline) revert CommitDeadlinePassed(jobId, job.deadline);
        if (job.verification != VERIFICATION_REPLAY) revert VerificationModeMismatch(jobId, job.verification);
        if (resultRoot == bytes32(0)) revert EmptyCommitment();
        uint32 terms = job.leafCount;
        if (leafCount != terms && !(job.training && leafCount == terms + 1)) {
            revert LeafCountMismatch(jobId, terms, leafCount);
        }
        job.leafCount = leafCount;
        uint40 challengeEnds = uint40(block.timestamp) + job.windowOrCommitBlock;
        job.challengeEnds = challengeEnds;
        // far below 2^32 for any chain's lifetime; the window it replaces was read just above
        job.windowOrCommitBlock = uint32(block.number);
        job.status = JobStatus.Committed;
        // The root is read on-chain only for a training job (the DatanetRegistry proves its
        // attribution leaf against it); the court never reads it, its challengers and jurors
        // check leaves off-chain against the root in this event, which is as final as storage.
        // So only a training job pays for a slot: every other root is found by `commitBlock`.
        if (job.training) job.resultRoot = resultRoot;
        emit ResultCommitted(jobId, msg.sender, resultRoot, leafCount, challengeEnds);
    }

    /// @notice Proves a zk-mode job's result and settles it at once: the Groth16 proof (a, b, c)
    /// must verify with the public signals [modelCommitment, inputCommitment, outputCommitment,
    /// jobBinding] against the verifier bound at award, where jobBinding is
    /// `ZkJobBinding.compute(jobId, job.provider)`: a proof made for another job, or by another
    /// provider, does not verify here even when the model and input are the same. Pays the
    /// provider the price minus the protocol fee, unlocks its collateral and stores
    /// `outputCommitment` as the job's result. Provider only, before the deadline.
    /// @dev Groth16 proofs are malleable, so nothing here keys on the proof bytes; the job's
    /// status is what makes a second settlement impossible. Signals at or above the field order
    /// are refused rather than left to the verifier, so no value can alias another mod p.
    function commitZkResult(
        bytes32 jobId,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256 inputCommitment,
        uint256 outputCommitment
    ) external nonReentrant {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Awarded) revert InvalidJobStatus(jobId, job.status);
        address provider = _providerOf(job);
        if (msg.sender != provider) revert NotProvider(msg.sender, provider);
        if (block.timestamp > job.deadline) revert CommitDeadlinePassed(jobId, job.deadline);
        if (job.verification != VERIFICATION_ZK) revert VerificationModeMismatch(jobId, job.verification);
        if (inputCommitment >= SNARK_SCALAR_FIELD) revert PublicSignalOutOfField(1, inputCommitment);
        if (outputCommitment >= SNARK_SCALAR_FIELD) revert PublicSignalOutOfField(2, outputCommitment);
        ZkTerms memory terms = _zkTerms[jobId];
        if (inputCommitment != terms.inputCommitment) {
            revert InputCommitmentMismatch(jobId, terms.inputCommitment, inputCommitment);
        }
        // A verifier that reverts (a malformed point fails the precompile) counts as a rejection.
        bool valid;
        // Computed here, never passed in: the caller cannot choose which job its proof is bound to.
        uint256 jobBinding = ZkJobBinding.compute(jobId, provider);
        try terms.verifier.verifyProof(
            a, b, c, [terms.modelCommitment, inputCommitment, outputCommitment, jobBinding]
        ) returns (bool ok) {
            valid = ok;
        } catch {}
        if (!valid) revert InvalidZkProof(jobId);

        delete _zkTerms[jobId];
        job.challengeEnds = uint40(block.timestamp);
        job.resultRoot = bytes32(outputCommitment);
        emit ZkResultCommitted(jobId, msg.sender, inputCommitment, outputCommitment);
        _settle(jobId, job);
    }

    /// @notice What a zk-mode job's proof must match (all zero for other jobs and once settled).
    function getZkTerms(bytes32 jobId) external view returns (ZkTerms memory) {
        return _zkTerms[jobId];
    }

    // ---------------------------------------------------------------- dispute court (COURT role)

    /// @notice The DisputeCourt opens a dispute on a Committed job inside its challenge window:
    /// `finalize` waits until every such dispute is released. Any number may be open at once.
    function holdForDispute(bytes32 jobId) external restricted {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Committed) revert InvalidJobStatus(jobId, job.status);
        if (block.timestamp >= job.challengeEnds) revert ChallengeWindowClosed(jobId, job.challengeEnds);
        job.openDisputes += 1;
    }

    /// @notice The DisputeCourt closed one of the job's disputes (whatever its outcome).
    function releaseDispute(bytes32 jobId) external restricted {
        _jobs[jobId].openDisputes -= 1;
    }

    /// @notice The DisputeCourt's jury convicted the provider of a Committed job: `cheatSlashBps`
    /// of its collateral is slashed, the requester refunded in full, `challengerRewardBps` of the
    /// penalty paid to `challenger`, `juryShareBps` of it (at most what the reward leaves) to
    /// `juryPot`, the rest accrued to the treasury. The court passes its own governed share, so
    /// the market needs no court parameter of its own.
    function convict(bytes32 jobId, address challenger, address juryPot, uint16 juryShareBps)
        external
        restricted
        nonReentrant
        returns (uint256 penalty, uint256 challengerReward, uint256 juryReward)
    {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Committed) revert InvalidJobStatus(jobId, job.status);
        (penalty, challengerReward, juryReward) = _convict(jobId, job, challenger, juryPot, juryShareBps);
        emit ProviderConvicted(jobId, challenger, penalty, challengerReward, juryReward);
    }

    /// @dev Slashes a cheating provider and refunds the requester (no fee was earned, so no
    /// attribution share either); pays the challenger's reward and the jury share.
    function _convict(bytes32 jobId, StoredJob storage job, address challenger, address juryPot, uint256 juryShareBps)
        private
        returns (uint256 penalty, uint256 reward, uint256 juryReward)
    {
        address provider = _providerOf(job);
        // the slash and the challenger's share are the job's own terms, fixed at award
        Terms storage terms = _termsOf(job);
        uint256 collateral = job.collateral;
        penalty = collateral * terms.cheatSlashBps / BPS;
        reward = penalty * terms.challengerRewardBps / BPS;
        juryReward = penalty * juryShareBps / BPS;
        if (juryReward > penalty - reward) juryReward = penalty - reward;
        job.status = JobStatus.ProviderSlashed;
        terms.accrued += uint96(penalty - reward - juryReward);
        if (job.attributionBps != 0) delete _attributedModel[jobId];
        _records[provider].slashed += 1;

        _slashAndRefund(job, provider, collateral, penalty);
        if (reward > 0) token.safeTransfer(challenger, reward);
        if (juryReward > 0) token.safeTransfer(juryPot, juryReward);
    }

    // ---------------------------------------------------------------- settlement

    /// @notice After the challenge window with no open dispute: pays the provider the price
    /// minus the protocol fee and unlocks its collateral. Anyone may call it.
    /// @dev No reentrancy guard (it costs the happy path ~300 gas): the job is Finalized before
    /// the first external call, and every call goes to a contract fixed at construction (the
    /// StakeManager, the OPEN token, the AttributionPool), none of which calls back.
    function finalize(bytes32 jobId) external {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Committed) revert InvalidJobStatus(jobId, job.status);
        if (block.timestamp < job.challengeEnds) revert ChallengeWindowOpen(jobId, job.challengeEnds);
        if (job.openDisputes != 0) revert DisputeOpen(jobId, job.openDisputes);
        _settle(jobId, job);
    }

    /// @notice Finalizes every job of `jobIds` that `finalize` would accept and skips the others
    /// with `FinalizeSkipped` (not Committed, window still open, or a dispute open): anyone may
    /// sweep many jobs, and a dispute opened on one of them meanwhile must not sink the rest.
    /// Consecutive jobs of the same provider are paid and unlocked with one transfer and one
    /// unlock, so list a provider's jobs together. Returns how many jobs it finalized.
    /// @dev No reentrancy guard, as `finalize`.
    function finalizeBatch(bytes32[] calldata jobIds) external returns (uint256 finalized) {
        address provider;
        uint256 payout;
        uint256 collateral;
        for (uint256 i; i < jobIds.length; ++i) {
            bytes32 jobId = jobIds[i];
            StoredJob storage job = _jobs[jobId];
            if (job.status != JobStatus.Committed || block.timestamp < job.challengeEnds || job.openDisputes != 0) {
                emit FinalizeSkipped(jobId, job.status);
                continue;
            }
            (address p, uint256 pay, uint256 coll) = _book(jobId, job);
            if (p != provider) {
                _pay(provider, payout, collateral);
                (provider, payout, collateral) = (p, 0, 0);
            }
            // sums of uint96 amounts, at most 2^32 of them (calldata bounds the length)
            unchecked {
                payout += pay;
                collateral += coll;
                ++finalized;
            }
        }
        _pay(provider, payout, collateral);
    }

    /// @dev Pays the provider the price minus the protocol fee and the attribution share (if the
    /// job owes one) and unlocks its collateral.
    function _settle(bytes32 jobId, StoredJob storage job) private {
        (address provider, uint256 payout, uint256 collateral) = _book(jobId, job);
        _pay(provider, payout, collateral);
    }

    /// @dev Unlocks `collateral` of `provider`'s stake and sends it `payout` (nothing for no
    /// provider; no transfer for nothing to send, as for jobs paid to the provider's balance).
    function _pay(address provider, uint256 payout, uint256 collateral) private {
        if (provider == address(0)) return;
        stakeManager.unlock(provider, collateral);
        if (payout != 0) token.safeTransfer(provider, payout);
    }

    /// @dev Books a payout: marks the job Finalized, accrues the fee to its terms, updates the
    /// provider's record and deposits the attribution share (if the job owes one). Credits the
    /// payout to the provider's balance for a job awarded while it had opted in to that. Returns
    /// what `_pay` owes the provider (payout 0 when credited).
    function _book(bytes32 jobId, StoredJob storage job)
        private
        returns (address provider, uint256 payout, uint256 collateral)
    {
        provider = _providerOf(job);
        uint256 price = job.price;
        collateral = job.collateral;
        uint256 attributionBps = job.attributionBps;
        // read with the price (same slot), before the writes below would make it a second load
        bool toBalance = job.payoutToBalance;

        // the job's own terms, fixed at award: the fee, the record price and the accrual in one slot
        Terms storage terms = _termsOf(job);
        uint256 fee;
        unchecked {
            // a uint96 price times a bps at most 10 000: no overflow, and fee <= price
            fee = price * terms.protocolFeeBps / BPS;
            payout = price - fee;
        }
        uint256 share;
        bytes32 modelHash;
        if (attributionBps != 0) {
            share = price * attributionBps / BPS;
            // Both were fixed at award, and fee + share <= BPS held then; the cap only guards that.
            if (share > payout) share = payout;
            payout -= share;
            modelHash = _attributedModel[jobId];
            delete _attributedModel[jobId];
        }
        job.status = JobStatus.Finalized;
        // the accrual is tokens this contract holds: below the uint96 supply cap (constructor)
        unchecked {
            terms.accrued += uint96(fee);
        }
        ProviderRecord storage record = _records[provider];
        // a job below the record price is paid but earns no record: a requester paying its own
        // sock puppet a trifle cannot buy it a track record
        if (price >= terms.minRecordPrice) record.completed += 1;
        record.totalEarned += uint160(payout);
        if (share != 0) emit AttributionPaid(jobId, modelHash, share);
        emit JobFinalized(jobId, provider, payout, fee);
        if (toBalance) {
            // a share of tokens this contract holds: the sum stays below the uint96 supply cap
            unchecked {
                _accountOf[provider].balance += uint96(payout);
            }
            payout = 0;
        }

        // Pulled by the pool from this contract's escrow; `deposit` reverts only on a zero
        // amount (skipped) or a failed transfer, which the escrow held for this job rules out.
        if (share != 0) attributionPool.deposit(modelHash, share);
    }

    /// @notice After the deadline with no commitment: refunds the requester in full and slashes
    /// the `noShowSlashBps` of the job's terms (those at award) of the provider's collateral to
    /// the treasury. Anyone may call it.
    function expire(bytes32 jobId) external nonReentrant {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Awarded) revert InvalidJobStatus(jobId, job.status);
        if (block.timestamp <= job.deadline) revert DeadlineNotPassed(jobId, job.deadline);
        address provider = _providerOf(job);
        uint256 collateral = job.collateral;
        uint256 price = job.price;

        Terms storage terms = _termsOf(job);
        uint256 penalty = collateral * terms.noShowSlashBps / BPS;
        job.status = JobStatus.Expired;
        terms.accrued += uint96(penalty);
        _records[provider].noShows += 1;
        if (job.verification == VERIFICATION_ZK) delete _zkTerms[jobId];
        if (job.attributionBps != 0) delete _attributedModel[jobId];
        emit JobExpired(jobId, provider, price, penalty);

        _slashAndRefund(job, provider, collateral, penalty);
    }

    /// @dev Releases the job's collateral, slashing `penalty` of it to this contract, and refunds
    /// the requester the whole price (expiry and conviction both end a job this way), the way it
    /// came: to its prepaid balance if the award drew it from there, else by transfer.
    function _slashAndRefund(StoredJob storage job, address provider, uint256 collateral, uint256 penalty) private {
        stakeManager.slash(provider, collateral, penalty, address(this));
        address requester = _accounts[job.requesterId];
        uint96 price = job.price;
        if (job.fundedFromBalance) {
            // the price left this balance at award: the sum stays below the uint96 supply cap
            unchecked {
                _accountOf[requester].balance += price;
            }
        } else {
            token.safeTransfer(requester, price);
        }
    }

    /// @notice Sends the accrued protocol fees and slashes to the treasury. Anyone may call it.
    /// Walks every terms snapshot (one per governance change, so few), where settlements accrue.
    function sweepTreasury() external nonReentrant returns (uint256 amount) {
        amount = _params.treasuryAccrued;
        _params.treasuryAccrued = 0;
        uint256 last = currentTermsId;
        for (uint256 id = 0; id <= last; ++id) {
            Terms storage terms = _terms[id];
            uint256 accrued = terms.accrued;
            if (accrued != 0) {
                amount += accrued;
                terms.accrued = 0;
            }
        }
        address to = treasury;
        emit TreasurySwept(to, amount);
        if (amount > 0) token.safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------- prepaid balances

    /// @notice Pays `amount` into the caller's balance (needs an allowance). An award takes the
    /// price from this balance when it covers it, so the award makes no token transfer; otherwise
    /// the award pulls the price by `transferFrom` as before.
    function deposit(uint256 amount) external nonReentrant {
        Account storage account = _accountOf[msg.sender];
        uint96 balance = account.balance + SafeCast.toUint96(amount);
        account.balance = balance;
        emit BalanceDeposited(msg.sender, amount, balance);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Sends `amount` of the caller's balance (deposits, refunds of jobs awarded from it,
    /// payouts credited to it) to the caller. Reverts `InsufficientMarketBalance` above the balance.
    function withdraw(uint256 amount) external nonReentrant {
        Account storage account = _accountOf[msg.sender];
        uint256 balance = account.balance;
        if (amount > balance) revert InsufficientMarketBalance(msg.sender, balance, amount);
        unchecked {
            balance -= amount;
        }
        account.balance = uint96(balance);
        emit BalanceWithdrawn(msg.sender, amount, balance);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Jobs awarded to the caller from now on credit their payout to its balance instead
    /// of transferring it (`enabled`), or transfer it (the default). A job keeps the choice in
    /// force at its award, so settlement reads no extra slot for it.
    function setPayoutToBalance(bool enabled) external {
        _accountOf[msg.sender].payoutToBalance = enabled;
        emit PayoutToBalanceSet(msg.sender, enabled);
    }

    /// @notice The account's withdrawable balance and whether jobs awarded to it pay out there.
    function getAccount(address account) external view returns (uint256 balance, bool payoutToBalance) {
        Account storage a = _accountOf[account];
        return (a.balance, a.payoutToBalance);
    }

    // ---------------------------------------------------------------- governance (AccessManager)

    // Every setter of a value in `Terms` appends a snapshot: jobs awarded from then on get the
    // new terms, jobs already awarded keep theirs.

    function setProtocolFee(uint16 protocolFeeBps) external restricted {
        _params.protocolFeeBps = protocolFeeBps;
        _checkParams(_params);
        _checkAttributionShare(attributionShareBps, protocolFeeBps);
        _emitParams();
        _nextTerms();
    }

    /// @notice Sets the price below which a paid-out job does not count toward the provider's
    /// `completed` record (it is still paid), for jobs awarded from now on.
    function setMinRecordPrice(uint64 minRecordPrice_) external restricted {
        _snapshotTerms(uint256(currentTermsId) + 1, minRecordPrice_);
    }

    /// @notice Sets the share of each paid-out job's price that goes to the attribution pool for
    /// models with weights; applies to jobs awarded from now on. At most
    /// `MAX_ATTRIBUTION_SHARE_BPS`, and the protocol fee plus the share at most the whole price.
    function setAttributionShare(uint16 attributionShareBps_) external restricted {
        _checkAttributionShare(attributionShareBps_, _params.protocolFeeBps);
        attributionShareBps = attributionShareBps_;
        emit AttributionShareUpdated(attributionShareBps_);
    }

    function setSlashFractions(uint16 cheatSlashBps, uint16 noShowSlashBps) external restricted {
        _params.cheatSlashBps = cheatSlashBps;
        _params.noShowSlashBps = noShowSlashBps;
        _checkParams(_params);
        _emitParams();
        _nextTerms();
    }

    function setChallengerRewardShare(uint16 challengerRewardBps) external restricted {
        _params.challengerRewardBps = challengerRewardBps;
        _checkParams(_params);
        _emitParams();
        _nextTerms();
    }

    /// @dev The unbonding delay must stay at least the challenge window, so a window can never
    /// outlast the stake that answers for it.
    function setChallengeWindow(uint32 challengeWindow_) external restricted {
        _params.challengeWindow = challengeWindow_;
        _checkParams(_params);
        _emitParams();
        _nextTerms();
    }

    function setVerifierMinStake(uint128 stake) external restricted {
        verifierMinStake = stake;
        _emitParams();
    }

    function setTreasury(address treasury_) external restricted {
        if (treasury_ == address(0)) revert InvalidParameter("treasury");
        treasury = treasury_;
        _emitParams();
    }

    function _checkParams(Params memory p) private view {
        if (p.protocolFeeBps > BPS) revert InvalidParameter("protocolFeeBps");
        if (p.cheatSlashBps > BPS) revert InvalidParameter("cheatSlashBps");
        if (p.noShowSlashBps > BPS) revert InvalidParameter("noShowSlashBps");
        if (p.challengerRewardBps > BPS) revert InvalidParameter("challengerRewardBps");
        if (p.challengeWindow == 0 || p.challengeWindow > stakeManager.unbondingDelay()) {
            revert InvalidParameter("challengeWindow");
        }
    }

    function _checkAttributionShare(uint16 share, uint16 protocolFeeBps) private pure {
        if (share > MAX_ATTRIBUTION_SHARE_BPS || uint256(share) + protocolFeeBps > BPS) {
            revert InvalidParameter("attributionShareBps");
        }
    }

    /// @dev Snapshots the parameters in force now (and the current record price) as the terms of
    /// jobs awarded from now on.
    function _nextTerms() private {
        uint256 current = currentTermsId;
        _snapshotTerms(current + 1, _terms[current].minRecordPrice);
    }

    /// @dev Writes the parameters in force now as terms `id`, the terms of jobs awarded from now
    /// on: the constructor writes id 0, every later change the next id.
    function _snapshotTerms(uint256 id, uint64 minRecordPrice_) private {
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

    function _emitParams() private {
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

    // ---------------------------------------------------------------- views

    /// @notice The job id: the EIP-712 struct hash of the offer (no domain), as `jobIdOf` in the
    /// protocol package computes it.
    function hashJobOffer(JobOffer calldata offer) public pure returns (bytes32 digest) {
        bytes32 typehash = JOB_OFFER_TYPEHASH;
        assembly ("memory-safe") {
            // The offer is a static struct: its 13 words sit contiguously in calldata. The
            // ABI decoder has not cleaned them, but dirty words only produce an id no valid
            // bid signs, so the award fails either way.
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), offer, 0x1a0)
            digest := keccak256(ptr, 0x1c0)
        }
    }

    function hashBid(Bid calldata bid) public pure returns (bytes32 digest) {
        bytes32 typehash = BID_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), bid, 0xe0)
            digest := keccak256(ptr, 0x100)
        }
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function getJob(bytes32 jobId) external view returns (Job memory) {
        StoredJob storage s = _jobs[jobId];
        bool committed = s.challengeEnds != 0 && s.verification == VERIFICATION_REPLAY;
        // the job's window is its terms' (copied at award), wherever the job keeps it now
        (uint32 window, uint32 commitBlock) = committed
            ? (_termsOf(s).challengeWindow, s.windowOrCommitBlock)
            : (s.windowOrCommitBlock, uint32(0));
        return Job({
            requester: _accounts[s.requesterId],
            price: s.price,
            provider: _accounts[s.providerId],
            collateral: s.collateral,
            deadline: s.deadline,
            challengeEnds: s.challengeEnds,
            leafCount: s.leafCount,
            status: s.status,
            training: s.training,
            verification: s.verification,
            attributionBps: s.attributionBps,
            termsId: s.termsId,
            openDisputes: s.openDisputes,
            challengeWindow: window,
            resultRoot: s.resultRoot,
            commitBlock: commitBlock
        });
    }

    /// @notice The terms job `jobId` was awarded under; reverts for a job never awarded.
    function getJobTerms(bytes32 jobId) external view returns (Terms memory) {
        StoredJob storage job = _jobs[jobId];
        if (job.status == JobStatus.None) revert InvalidJobStatus(jobId, JobStatus.None);
        return _termsOf(job);
    }

    /// @notice Jobs priced below this are paid but do not count toward `completed` (for awards from now on).
    function minRecordPrice() external view returns (uint64) {
        return _terms[currentTermsId].minRecordPrice;
    }

    function getProviderRecord(address provider) external view returns (ProviderRecord memory) {
        return _records[provider];
    }

    /// @notice The parameters in force now (for jobs awarded from now on) and everything the
    /// treasury is owed, as `sweepTreasury` would send it.
    function params() external view returns (Params memory p) {
        p = _params;
        p.treasuryAccrued = uint160(treasuryAccrued());
    }

    function challengeWindow() external view returns (uint64) {
        return _params.challengeWindow;
    }

    /// @notice Fees and slashes owed to the treasury, over all terms snapshots.
    function treasuryAccrued() public view returns (uint256 amount) {
        amount = _params.treasuryAccrued;
        uint256 last = currentTermsId;
        for (uint256 id = 0; id <= last; ++id) {
            amount += _terms[id].accrued;
        }
    }

    /// @notice The model a job owes an attribution share for (zero when it owes none or has ended).
    function attributedModel(bytes32 jobId) external view returns (bytes32) {
        return _attributedModel[jobId];
    }

    function isNonceUsed(address provider, uint256 nonce) external view returns (bool) {
        return _nonceBitmap[provider][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }
}
