// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {StakeManager} from "./StakeManager.sol";
import {IGroth16Verifier, ZkJobBinding} from "./IGroth16Verifier.sol";
import {ZkVerifierRegistry} from "./ZkVerifierRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {AttributionPool} from "./attribution/AttributionPool.sol";
import {JobMarketState} from "./JobMarketState.sol";
import {JobMarketExtension} from "./JobMarketExtension.sol";

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
/// Its functions live in two contracts on one storage (`JobMarketState`): this one, with the
/// happy path of a job, and the `JobMarketExtension`, which it runs by delegatecall for every other
/// selector; callers see one address and one ABI.
/// @dev The struct and type strings in `JobMarketState` must match packages/protocol/src/eip712.ts exactly.
contract JobMarket is JobMarketState {
    using SafeERC20 for IERC20;

    /// @notice The code that runs every selector this contract does not hold (see `fallback`).
    address public immutable extension;

    /// @param extension_ the `JobMarketExtension` built with the same token, registries, stake
    /// manager and pool: every selector this contract does not know runs there by delegatecall.
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
        AttributionConfig memory attribution,
        JobMarketExtension extension_
    ) JobMarketState(token_, stakeManager_, zkVerifierRegistry_, modelRegistry_, attribution.pool, authority) {
        _checkExtension(extension_);
        extension = address(extension_);
        AttributionPool attributionPool_ = attribution.pool;
        uint16 attributionShareBps_ = attribution.shareBps;
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

    /// @dev The extension's code carries its own copies of the immutables: built with other ones,
    /// it would move another token or lock stake elsewhere while writing this market's storage.
    function _checkExtension(JobMarketExtension e) private view {
        if (
            address(e).code.length == 0 || address(e.token()) != address(token)
                || address(e.stakeManager()) != address(stakeManager)
                || address(e.zkVerifierRegistry()) != address(zkVerifierRegistry)
                || address(e.modelRegistry()) != address(modelRegistry)
                || address(e.attributionPool()) != address(attributionPool)
        ) revert InvalidParameter("extension");
    }

    /// @notice Every function this contract does not hold (governance, disputes, expiry, prepaid
    /// balances, most views) runs in the extension, on this contract's storage and balance.
    /// @dev Not payable: nothing here takes ether. The extension's return data or revert reason
    /// is passed back as it is, so callers see one contract with one ABI.
    fallback() external {
        address target = extension;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), target, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
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
        jobId = _checkBid(offer, bid, false);
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.None) revert JobAlreadyAwarded(jobId);
        _acceptBid(bid, signature);
        fromBalance = _storeAwarded(job, offer, bid, _leafCountOf(jobId, offer));
        if (offer.verification == VERIFICATION_ZK) _bindZkTerms(jobId, job, offer);
        if (share != 0) {
            job.attributionBps = share;
            _attributedModel[jobId] = offer.modelHash;
        }
        _emitAwarded(jobId, offer, bid);
    }

    /// @dev The checks of an award that do not depend on where the job is stored: the caller is
    /// the offer's requester, the offer is open and well formed, its salt in the space of this
    /// kind of award (`COMPACT_SALT_TAG`), the bid for it, in time, within its price and collateral
    /// bounds. `_acceptBid` then checks the bid's signature and uses its nonce.
    function _checkBid(JobOffer calldata offer, Bid calldata bid, bool compact) private view returns (bytes32 jobId) {
        if (offer.requester != msg.sender) revert NotRequester(msg.sender, offer.requester);
        jobId = hashJobOffer(offer);
        if (offer.verification > VERIFICATION_ZK || offer.kind > 1) revert InvalidOffer(jobId);
        if (_isCompactSalt(offer.salt) != compact) revert SaltSpaceMismatch(jobId, compact);
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
    }

    /// @dev Uses the bid's nonce and checks that its provider signed it.
    function _acceptBid(Bid calldata bid, bytes calldata signature) private {
        _useNonce(bid.provider, bid.nonce);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(hashBid(bid)), signature);
        if (err != ECDSA.RecoverError.NoError || signer != bid.provider) revert InvalidBidSignature(bid.provider);
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

    /// @dev Books a stored job's payout: marks it Finalized, books it (`_bookPayout`), logs it and
    /// credits it (`_credit`), then deposits the attribution share. Returns what `_pay` owes
    /// the provider (payout 0 when credited to its balance).
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
        bytes32 modelHash;
        if (attributionBps != 0) {
            modelHash = _attributedModel[jobId];
            delete _attributedModel[jobId];
        }
        job.status = JobStatus.Finalized;
        uint256 fee;
        uint256 share;
        (payout, fee, share) = _bookPayout(jobId, provider, price, attributionBps, terms, modelHash);
        emit JobFinalized(jobId, provider, payout, fee);
        payout = _credit(provider, payout, toBalance);
        _depositShare(modelHash, share);
    }

    /// @dev Books a payout of a job already marked Finalized (stored or compact): the fee (accrued
    /// to its terms), the attribution share (if the job owes one) and the provider's record.
    function _bookPayout(
        bytes32 jobId,
        address provider,
        uint256 price,
        uint256 attributionBps,
        Terms storage terms,
        bytes32 modelHash
    ) private returns (uint256 payout, uint256 fee, uint256 share) {
        unchecked {
            // a uint96 price times a bps at most 10 000: no overflow, and fee <= price
            fee = price * terms.protocolFeeBps / BPS;
            payout = price - fee;
        }
        if (attributionBps != 0) {
            share = price * attributionBps / BPS;
            // Both were fixed at award, and fee + share <= BPS held then; the cap only guards that.
            if (share > payout) share = payout;
            payout -= share;
        }
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
    }

    /// @dev Credits `payout` to the provider's balance for a job awarded while it had opted in to
    /// that; returns what is left to transfer (0 when credited).
    function _credit(address provider, uint256 payout, bool toBalance) private returns (uint256) {
        if (!toBalance) return payout;
        // a share of tokens this contract holds: the sum stays below the uint96 supply cap
        unchecked {
            _accountOf[provider].balance += uint96(payout);
        }
        return 0;
    }

    /// @dev Pulled by the pool from this contract's escrow; `deposit` reverts only on a zero
    /// amount (skipped) or a failed transfer, which the escrow held for the job rules out.
    function _depositShare(bytes32 modelHash, uint256 share) private {
        if (share != 0) attributionPool.deposit(modelHash, share);
    }

    // ---------------------------------------------------------------- compact batches

    /// @dev What `awardCompact` carries from job to job: the run of consecutive jobs of one
    /// provider (its collateral is locked once per run), the run of one model (asked once per
    /// run), the escrow owed, and the values every job of the batch shares.
    struct CompactRun {
        address provider;
        uint256 locked;
        bool modelKnown;
        bytes32 modelHash;
        uint16 share;
        uint256 escrow;
        uint32 requesterId;
        uint16 termsId;
        uint32 window;
    }

    /// @notice Awards several replay inference offers, each to its signed bid, storing no job of
    /// its own: the batch keeps one lane per job (status and window end; five to a slot) under
    /// its id, and each call on the batch passes the jobs' `CompactJob` records,
    /// checked against that id. Checks as `awardBatch` (all or nothing), and each offer's salt
    /// must be a compact salt (`COMPACT_SALT_TAG`) its requester has not used. The records are
    /// rebuilt from this transaction's `JobAwarded` events and its `CompactBatchAwarded`.
    /// Commit with `commitCompact`, finalize with `finalizeCompact`; to dispute or expire a job,
    /// first write it into ordinary storage with `materializeCompactJob` (anyone may).
    function awardCompact(JobOffer[] calldata offers, Bid[] calldata bids, bytes[] calldata signatures)
        external
        nonReentrant
        returns (bytes32 batchId)
    {
        uint256 n = offers.length;
        if (n == 0 || bids.length != n || signatures.length != n) revert BatchLengthMismatch();
        CompactRun memory run;
        run.provider = bids[0].provider;
        run.requesterId = _registered(msg.sender).id;
        // below 2^16 (`_snapshotTerms`)
        run.termsId = uint16(currentTermsId);
        run.window = _currentChallengeWindow;
        bytes32[] memory hashes = new bytes32[](n);
        bytes memory packed = new bytes(n * 7);
        for (uint256 i; i < n; ++i) {
            CompactJob memory job = _awardCompactOne(offers[i], bids[i], signatures[i], run);
            hashes[i] = keccak256(abi.encode(job));
            uint256 bits = (uint256(job.providerId) << 24) | (uint256(job.attributionBps) << 8)
                | (job.fundedFromBalance ? 1 : 0) | (job.payoutToBalance ? 2 : 0);
            assembly ("memory-safe") {
                let at := add(add(packed, 0x20), mul(i, 7))
                for { let b := 0 } lt(b, 7) { b := add(b, 1) } { mstore8(add(at, b), shr(mul(8, sub(6, b)), bits)) }
            }
        }
        batchId = keccak256(abi.encodePacked(hashes));
        _openLanes(batchId, n);
        // all or nothing: a provider short of free stake for its run reverts the whole batch
        stakeManager.lock(run.provider, run.locked);
        if (run.escrow != 0) _escrow(run.escrow);
        emit CompactBatchAwarded(batchId, msg.sender, run.requesterId, run.termsId, run.window, packed);
    }

    /// @dev One job of `awardCompact`: the award's checks, its compact salt, the price from the
    /// requester's balance or into the escrow, the collateral into the provider's run.
    function _awardCompactOne(JobOffer calldata offer, Bid calldata bid, bytes calldata signature, CompactRun memory run)
        private
        returns (CompactJob memory job)
    {
        bytes32 jobId = _checkBid(offer, bid, true);
        if (offer.verification != VERIFICATION_REPLAY || offer.kind != KIND_INFERENCE) revert NotCompactable(jobId);
        _useCompactSalt(offer.salt);
        _acceptBid(bid, signature);
        if (!run.modelKnown || offer.modelHash != run.modelHash) {
            (run.modelKnown, run.modelHash, run.share) = (true, offer.modelHash, _checkModel(offer.modelHash));
        }
        if (bid.provider != run.provider) {
            stakeManager.lock(run.provider, run.locked);
            (run.provider, run.locked) = (bid.provider, 0);
        }
        job.jobId = jobId;
        job.requesterId = run.requesterId;
        job.deadline = SafeCast.toUint40(offer.deadline);
        job.leafCount = _leafCountOf(jobId, offer);
        job.termsId = run.termsId;
        job.challengeWindow = run.window;
        job.attributionBps = run.share;
        if (run.share != 0) job.modelHash = offer.modelHash;
        _fundCompact(job, bid, run);
        _emitAwarded(jobId, offer, bid);
    }

    /// @dev The parties' side of a compact job: the price from the requester's balance when it
    /// covers it (else into the batch's escrow), the collateral into the provider's run, the
    /// provider's id and payout choice.
    function _fundCompact(CompactJob memory job, Bid calldata bid, CompactRun memory run) private {
        uint96 price = SafeCast.toUint96(bid.price);
        uint96 collateral = SafeCast.toUint96(bid.collateral);
        Account storage provider = _registered(bid.provider);
        Account storage requester = _accountOf[msg.sender];
        uint96 balance = requester.balance;
        bool fromBalance = balance != 0 && balance >= price;
        // each a uint96, at most 2^32 of them
        unchecked {
            if (fromBalance) requester.balance = balance - price;
            else run.escrow += price;
            run.locked += collateral;
        }
        job.price = price;
        job.collateral = collateral;
        job.providerId = provider.id;
        job.fundedFromBalance = fromBalance;
        job.payoutToBalance = provider.payoutToBalance;
    }

    /// @dev Marks a compact salt of the caller used (its low 224 bits, as a bitmap).
    function _useCompactSalt(uint256 salt) private {
        uint256 number = salt - COMPACT_SALT;
        mapping(uint256 => uint256) storage words = _compactSalts[msg.sender];
        uint256 bit = 1 << (number & 0xff);
        uint256 word = words[number >> 8];
        if (word & bit != 0) revert SaltAlreadyUsed(msg.sender, salt);
        words[number >> 8] = word | bit;
    }

    /// @dev Writes the lanes of a new batch of `n` jobs, each Awarded, a slot at a time.
    function _openLanes(bytes32 batchId, uint256 n) private {
        mapping(uint256 => uint256) storage slots = _compactLanes[batchId];
        uint256 full;
        for (uint256 l; l < LANES_PER_SLOT; ++l) {
            full |= uint256(JobStatus.Awarded) << (l * LANE_BITS);
        }
        uint256 s;
        for (; (s + 1) * LANES_PER_SLOT <= n; ++s) {
            slots[s] = full;
        }
        uint256 left = n - s * LANES_PER_SLOT;
        // the last slot's first `left` lanes: the low `left * LANE_BITS` bits of a full slot
        if (left != 0) slots[s] = full & ((1 << (left * LANE_BITS)) - 1);
    }

    /// @notice Commits the caller's jobs `indices` of the compact batch of `jobs` (the batch's
    /// records, all of them, in order), each with its result root, as `commitResult` would: the
    /// caller is each job's provider, before its deadline, with a non-zero root; the leaf count
    /// is the one the job's terms fixed. All or nothing. Logs `CompactCommitted`, not a
    /// `ResultCommitted` per job.
    function commitCompact(CompactJob[] calldata jobs, uint256[] calldata indices, bytes32[] calldata resultRoots)
        external
    {
        uint256 n = indices.length;
        if (n == 0 || resultRoots.length != n) revert BatchLengthMismatch();
        bytes32 batchId = _batchIdOf(jobs);
        uint32 caller = _accountOf[msg.sender].id;
        uint256 challengeEnds;
        for (uint256 k; k < n; ++k) {
            uint256 i = indices[k];
            if (i >= jobs.length) revert CompactIndexOutOfRange(i, jobs.length);
            CompactJob calldata job = jobs[i];
            uint256 lane = _lane(batchId, i);
            if (lane & 0xff != uint256(JobStatus.Awarded)) revert InvalidJobStatus(job.jobId, _laneStatus(job.jobId, lane));
            if (job.providerId != caller) revert NotProvider(msg.sender, _accounts[job.providerId]);
            if (block.timestamp > job.deadline) revert CommitDeadlinePassed(job.jobId, job.deadline);
            if (resultRoots[k] == bytes32(0)) revert EmptyCommitment();
            // every job of a batch has the window of the batch's terms
            challengeEnds = block.timestamp + job.challengeWindow;
            _setLane(batchId, i, uint256(JobStatus.Committed) | (challengeEnds << 8));
        }
        // one log for the batch: its roots are read off-chain only (by challengers and jurors,
        // after `materializeCompactJob` for a disputed job; see the client's `getJob`)
        emit CompactCommitted(batchId, msg.sender, indices, resultRoots, uint64(challengeEnds));
    }

    /// @notice Finalizes jobs `indices` of the compact batch of `jobs` as `finalizeBatch` does:
    /// a job that is not Committed in the batch (a materialized job included: finalize that one
    /// with `finalize`) or whose window is still open is skipped with `FinalizeSkipped`; the rest
    /// are paid, consecutive jobs of one provider with one transfer and one unlock, and logged
    /// together in one `CompactFinalized`.
    function finalizeCompact(CompactJob[] calldata jobs, uint256[] calldata indices)
        external
        returns (uint256 finalized)
    {
        bytes32 batchId = _batchIdOf(jobs);
        uint256[] memory paid = new uint256[](indices.length);
        address provider;
        uint256 payout;
        uint256 collateral;
        for (uint256 k; k < indices.length; ++k) {
            uint256 i = indices[k];
            if (i >= jobs.length) revert CompactIndexOutOfRange(i, jobs.length);
            CompactJob calldata job = jobs[i];
            (bool due, address p, uint256 pay) = _finalizeCompactOne(batchId, job, i);
            if (!due) continue;
            if (p != provider) {
                _pay(provider, payout, collateral);
                (provider, payout, collateral) = (p, 0, 0);
            }
            // sums of uint96 amounts, at most 2^32 of them (calldata bounds the length)
            unchecked {
                payout += pay;
                collateral += job.collateral;
                paid[finalized++] = i;
            }
        }
        _pay(provider, payout, collateral);
        assembly ("memory-safe") {
            mstore(paid, finalized) // only the jobs paid
        }
        if (finalized != 0) emit CompactFinalized(batchId, paid);
    }

    /// @dev Books job `i` of a compact batch if it is due (Committed, window over), else logs
    /// the skip; returns what `_pay` owes its provider.
    function _finalizeCompactOne(bytes32 batchId, CompactJob calldata job, uint256 i)
        private
        returns (bool due, address provider, uint256 pay)
    {
        uint256 lane = _lane(batchId, i);
        if (lane & 0xff != uint256(JobStatus.Committed) || block.timestamp < (lane >> 8)) {
            emit FinalizeSkipped(job.jobId, _laneStatus(job.jobId, lane));
            return (false, address(0), 0);
        }
        _setLane(batchId, i, (lane & ~uint256(0xff)) | uint256(JobStatus.Finalized));
        provider = _accounts[job.providerId];
        (uint256 payout,, uint256 share) =
            _bookPayout(job.jobId, provider, job.price, job.attributionBps, _terms[job.termsId], job.modelHash);
        pay = _credit(provider, payout, job.payoutToBalance);
        _depositShare(job.modelHash, share);
        due = true;
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
}
