// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {StakeManager} from "./StakeManager.sol";
import {ZkVerifierRegistry} from "./ZkVerifierRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {AttributionPool} from "./attribution/AttributionPool.sol";
import {JobMarketState} from "./JobMarketState.sol";

/// @title JobMarketExtension: the JobMarket's functions off a job's happy path
/// @notice Runs only by delegatecall from the `JobMarket` (its fallback), on the market's storage
/// and token balance: governance setters, the DisputeCourt's hooks, expiry, the treasury sweep,
/// prepaid balances, nonce withdrawal and the views other contracts do not read. Called directly,
/// it works on its own empty storage, and its restricted functions refuse every caller (it has
/// no authority of its own).
contract JobMarketExtension is JobMarketState {
    using SafeERC20 for IERC20;

    constructor(
        IERC20 token_,
        StakeManager stakeManager_,
        ZkVerifierRegistry zkVerifierRegistry_,
        ModelRegistry modelRegistry_,
        AttributionPool attributionPool_
    ) JobMarketState(token_, stakeManager_, zkVerifierRegistry_, modelRegistry_, attributionPool_, address(0)) {}

    // ---------------------------------------------------------------- provider

    /// @notice Withdraws the caller's bids signed with nonces `word * 256 + i`, for each bit i set
    /// in `mask`: such a bid can no longer be awarded (a signed bid is otherwise good until its
    /// expiry). Marking a nonce already used or invalidated is harmless.
    function invalidateNonces(uint256 word, uint256 mask) external {
        _nonceBitmap[msg.sender][word] |= mask;
        emit NoncesInvalidated(msg.sender, word, mask);
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

    // ---------------------------------------------------------------- expiry and the treasury

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

    /// @dev Snapshots the parameters in force now (and the current record price) as the terms of
    /// jobs awarded from now on.
    function _nextTerms() private {
        uint256 current = currentTermsId;
        _snapshotTerms(current + 1, _terms[current].minRecordPrice);
    }

    // ---------------------------------------------------------------- compact batches

    /// @notice Writes job `index` of the compact batch of `jobs` (the batch's records, all of
    /// them, in order) into ordinary storage, Awarded or Committed as it is: from then on the
    /// DisputeCourt's hooks, `finalize`, `expire` and `getJob` work on it as on any other job,
    /// and the batch's calls skip it. Anyone may: a verifier before it challenges, anyone before
    /// expiring a no-show. It costs the caller the two slots a stored job has.
    function materializeCompactJob(CompactJob[] calldata jobs, uint256 index) external returns (bytes32 jobId) {
        if (index >= jobs.length) revert CompactIndexOutOfRange(index, jobs.length);
        bytes32 batchId = _batchIdOf(jobs);
        CompactJob calldata c = jobs[index];
        jobId = c.jobId;
        uint256 lane = _lane(batchId, index);
        uint256 status = lane & 0xff;
        if (status != uint256(JobStatus.Awarded) && status != uint256(JobStatus.Committed)) {
            revert InvalidJobStatus(jobId, _laneStatus(jobId, lane));
        }
        StoredJob storage job = _jobs[jobId];
        // cannot happen: compact and stored jobs have disjoint salt spaces (`COMPACT_SALT_TAG`)
        if (job.status != JobStatus.None) revert JobAlreadyAwarded(jobId);
        _setLane(batchId, index, LANE_MOVED);
        job.price = c.price;
        job.collateral = c.collateral;
        job.requesterId = c.requesterId;
        job.fundedFromBalance = c.fundedFromBalance;
        job.payoutToBalance = c.payoutToBalance;
        job.deadline = c.deadline;
        job.challengeEnds = uint40(lane >> 8);
        job.leafCount = c.leafCount;
        job.status = JobStatus(status);
        job.attributionBps = c.attributionBps;
        job.termsId = c.termsId;
        // the window until the commit; after it a stored job keeps the commit's block, which a
        // compact lane does not: 0, and readers find the root by the batch's `CompactCommitted`
        job.windowOrCommitBlock = status == uint256(JobStatus.Committed) ? 0 : c.challengeWindow;
        job.providerId = c.providerId;
        if (c.attributionBps != 0) _attributedModel[jobId] = c.modelHash;
        emit CompactJobMaterialized(batchId, jobId, index);
    }

    /// @notice Job `index` of compact batch `batchId` as its lane holds it: status (None for no
    /// such job; a materialized job reports `moved` and its status in `getJob`) and the end of
    /// its challenge window (0 before the commit).
    function getCompactJobState(bytes32 batchId, uint256 index)
        external
        view
        returns (JobStatus status, uint64 challengeEnds, bool moved)
    {
        uint256 lane = _lane(batchId, index);
        moved = lane & 0xff == LANE_MOVED;
        status = moved ? JobStatus.None : JobStatus(lane & 0xff);
        challengeEnds = uint64(lane >> 8);
    }

    /// @notice Whether `requester` has used compact salt `salt` (an offer it awarded compactly).
    function isCompactSaltUsed(address requester, uint256 salt) external view returns (bool) {
        if (!_isCompactSalt(salt)) return false;
        uint256 number = salt - COMPACT_SALT;
        return _compactSalts[requester][number >> 8] & (1 << (number & 0xff)) != 0;
    }

    // ---------------------------------------------------------------- views

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
