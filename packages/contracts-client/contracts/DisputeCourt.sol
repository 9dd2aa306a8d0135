// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {StakeManager} from "./StakeManager.sol";
import {JobMarket} from "./JobMarket.sol";
import {JobMarketState} from "./JobMarketState.sol";
import {JobMarketExtension} from "./JobMarketExtension.sol";
import {IDisputeCourt} from "./IDisputeCourt.sol";

/// @title DisputeCourt: a dispute game over committed job results that no single key rules
/// @notice Any number of staked verifiers may dispute a committed replay-mode job while its
/// challenge window is open. A challenge is committed first (a hash that binds the challenger's
/// address, so a copy from the mempool is worthless) and revealed in a later block; the reveal
/// fixes a future block whose hash draws a jury by stake-weighted sortition from a pool of
/// jurors who locked stake here. Jurors re-execute the disputed leaf off-chain and vote by
/// commit–reveal; the majority of revealed votes rules; either party may appeal to a larger
/// jury against a larger bond; `execute` applies the final ruling. Every stage has a deadline
/// with a defined outcome, so no bond, escrow or stake can stay locked. Governance (the
/// AccessManager) only sets parameters, within bounds, and never decides a dispute.
/// @dev Money: the court holds only bonds (challenge and appeal bonds) and, for the length of
/// one `execute`, the slashed stakes and jury share it passes on; stakes stay in the
/// StakeManager, locked by this contract (it is the StakeManager's second authorized locker).
/// A convicted provider is slashed through `JobMarket.convict`; a false challenger's loss goes
/// to the coherent jurors (`juryShareBps`) and the treasury, never to the provider it accused.
/// Gas bounds: a draw scans at most MAX_JURY_POOL pool slots; `execute` visits every seat of the
/// dispute once (at most (15 + 31 + 63) · 2 = 218 seats with the largest jury, three rounds and a
/// redraw each, about 35k gas per penalized seat) and, for a guilty ruling, reads one slot per
/// earlier dispute on the same job (each of which cost its challenger a bond and locked stake).
/// Residual trust: the provider's, requester's and challenger's own addresses are excluded from
/// the jury, but a party's other accounts in the pool are not identifiable; stake weighting and
/// the appeal to a jury twice as large make buying a majority cost a majority of the drawn stake.
contract DisputeCourt is IDisputeCourt, AccessManaged, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Governed parameters (three slots). Durations are seconds, `drawDelay` blocks.
    struct CourtParams {
        /// @dev OPEN pulled from a challenger at `commitChallenge`; an appeal costs this times 2^(appeal number)
        uint96 challengeBond;
        /// @dev challenger's free stake locked for the dispute's length (it cannot unbond away)
        uint96 challengerStakeAtRisk;
        /// @dev part of `challengerStakeAtRisk` slashed from a false challenger, basis points
        uint16 falseChallengeSlashBps;
        /// @dev jurors' share of a convicted provider's penalty and of a loser's bonds and slash, bps
        uint16 juryShareBps;
        /// @dev jurors in the first round (odd); an appeal round has 2n+1 for a previous n
        uint8 jurySize;
        /// @dev rounds a dispute may have, the first included (appeals = maxRounds - 1)
        uint8 maxRounds;
        /// @dev blocks between a reveal (or appeal) and the block whose hash draws the jury
        uint8 drawDelay;
        uint96 jurorMinStake;
        /// @dev stake a drawn juror loses for voting against the final ruling or not revealing
        uint96 jurorPenalty;
        /// @dev seconds a challenger has to reveal its committed challenge
        uint32 revealPeriod;
        /// @dev seconds drawn jurors have to commit their votes
        uint32 voteCommitPeriod;
        uint32 voteRevealPeriod;
        uint32 appealPeriod;
        /// @dev part of the bond a challenger pays (to the treasury) to concede before any jury is drawn
        uint96 concessionFee;
    }

    enum Phase {
        None,
        Committed,
        AwaitingDraw,
        Voting,
        Ruled,
        Closed
    }

    /// @dev Rulings; a juror's vote is `Guilty` or `NotGuilty`.
    uint8 public constant RULING_NONE = 0;
    uint8 public constant RULING_GUILTY = 1;
    uint8 public constant RULING_NOT_GUILTY = 2;
    /// @notice A tie or a jury that did not reveal, twice: the challenge is neither upheld nor false.
    uint8 public constant RULING_NOT_PROVEN = 3;

    /// @notice Upper bound of the juror pool: `drawJury` scans it linearly, so one draw reads at
    /// most this many pool slots (about 2,100 gas each) whatever the pool's history.
    uint256 public constant MAX_JURY_POOL = 100;
    uint256 public constant MAX_JURY_SIZE = 15;
    uint256 public constant MAX_ROUNDS = 3;
    uint256 public constant MAX_PERIOD = 30 days;
    uint16 private constant BPS = 10_000;

    /// @dev Terms are copied at commit (money) and reveal (sizes), so governance changes do not
    /// reach a running dispute.
    struct Dispute {
        bytes32 jobId;
        address challenger;
        uint96 bond;
        /// @dev the challenge commitment until the reveal
        bytes32 commitment;
        bytes32 claimedDataHash;
        uint96 stakeAtRisk;
        uint96 jurorPenalty;
        uint32 leafIndex;
        uint16 falseChallengeSlashBps;
        uint16 juryShareBps;
        uint64 commitBlock;
        uint40 revealEnds;
        uint40 appealEnds;
        Phase phase;
        uint8 ruling;
        /// @dev rounds drawn or to be drawn (redraws after a tie do not count)
        uint8 rounds;
        uint8 maxRounds;
        /// @dev no appeal is possible any more (the pool could not seat the last jury)
        bool isFinal;
        /// @dev position in the job's list of disputes (commit order)
        uint32 seq;
        /// @dev what `concedeChallenge` keeps of the bond (copied at commit)
        uint96 concessionFee;
    }

    struct Round {
        address appellant;
        uint96 appealBond;
        uint64 drawBlock;
        uint40 commitEnds;
        uint40 revealEnds;
        uint16 committed;
        uint16 revealed;
        uint16 guilty;
        uint8 size;
        bool redraw;
        address[] jurors;
    }

    struct Vote {
        bytes32 commitment;
        uint8 choice;
    }

    /// @dev One slot per juror: pool position + 1, locked stake, seats in open disputes.
    struct PoolEntry {
        address juror;
        uint88 stake;
        uint8 active;
    }

    IERC20 public immutable token;
    StakeManager public immutable stakeManager;
    JobMarket public immutable jobMarket;

    CourtParams private _params;
    uint256 public disputeCount;
    PoolEntry[] private _pool;
    mapping(address juror => uint256 positionPlusOne) private _poolIndex;
    mapping(uint256 disputeId => Dispute) private _disputes;
    mapping(uint256 disputeId => Round[]) private _rounds;
    mapping(uint256 disputeId => mapping(uint256 round => mapping(address juror => Vote))) private _votes;
    mapping(bytes32 jobId => uint256[] disputeIds) private _jobDisputes;

    event ChallengeCommitted(
        uint256 indexed disputeId, bytes32 indexed jobId, address indexed challenger, uint256 bond, uint256 stakeAtRisk
    );
    event ChallengeRevealed(
        uint256 indexed disputeId, bytes32 indexed jobId, uint256 leafIndex, bytes32 claimedDataHash, uint64 drawBlock
    );
    event ChallengeExpired(uint256 indexed disputeId, bytes32 indexed jobId, uint256 bondToTreasury);
    /// @notice The challenger withdrew its challenge before any jury was drawn; `fee` went to the treasury.
    event ChallengeConceded(uint256 indexed disputeId, bytes32 indexed jobId, address indexed challenger, uint256 fee);
    event DrawRetargeted(uint256 indexed disputeId, uint256 round, uint64 drawBlock);
    event JuryDrawn(uint256 indexed disputeId, uint256 round, address[] jurors, uint40 commitEnds, uint40 revealEnds);
    event JuryUnfilled(uint256 indexed disputeId, uint256 round, uint8 ruling);
    event VoteCommitted(uint256 indexed disputeId, uint256 round, address indexed juror);
    event VoteRevealed(uint256 indexed disputeId, uint256 round, address indexed juror, uint8 choice);
    event Redraw(uint256 indexed disputeId, uint256 round, uint64 drawBlock);
    event Ruled(uint256 indexed disputeId, uint256 round, uint8 ruling, uint256 guilty, uint256 notGuilty, uint40 appealEnds);
    event Appealed(uint256 indexed disputeId, uint256 round, address indexed appellant, uint256 bond, uint64 drawBlock);
    /// @notice The final ruling was applied. `convicted`: this dispute slashed the provider (false
    /// for a guilty ruling on a job an earlier dispute had already convicted).
    event DisputeExecuted(
        uint256 indexed disputeId,
        bytes32 indexed jobId,
        uint8 ruling,
        bool convicted,
        uint256 challengerLoss,
        uint256 juryPot,
        uint256 toTreasury
    );
    event JurorPaid(uint256 indexed disputeId, address indexed juror, uint256 amount);
    event JurorPenalized(uint256 indexed disputeId, address indexed juror, uint256 amount);
    event JurorJoined(address indexed juror, uint256 amount, uint256 stake);
    event JurorLeft(address indexed juror, uint256 stake);
    event CourtParamsUpdated(CourtParams params);

    error InvalidParameter(string name);
    error NotChallengeable(bytes32 jobId);
    error PartyCannotChallenge(address caller);
    error VerifierStakeTooLow(address verifier, uint256 staked, uint256 required);
    error WrongPhase(uint256 disputeId, Phase phase);
    error NotChallenger(address caller, address challenger);
    error RevealTooEarly(uint256 disputeId, uint64 commitBlock);
    error RevealPeriodOver(uint256 disputeId, uint40 revealEnds);
    error RevealPeriodOpen(uint256 disputeId, uint40 revealEnds);
    /// @dev The first jury's seed block is mined (its jury is knowable): too late to concede.
    error JuryKnowable(uint256 disputeId, uint64 drawBlock);
    error CommitmentMismatch(uint256 disputeId);
    error LeafIndexOutOfRange(uint256 leafIndex, uint32 leafCount);
    error DrawTooEarly(uint256 disputeId, uint64 drawBlock);
    error NotJuror(uint256 disputeId, address caller);
    error VoteCommitOver(uint256 disputeId, uint40 commitEnds);
    error VoteAlreadyCommitted(uint256 disputeId, address juror);
    error VoteRevealNotOpen(uint256 disputeId);
    error VoteRevealOver(uint256 disputeId, uint40 revealEnds);
    error InvalidVote(uint8 choice);
    error VoteMismatch(uint256 disputeId, address juror);
    error VotingOpen(uint256 disputeId, uint40 revealEnds);
    error AppealPeriodOver(uint256 disputeId, uint40 appealEnds);
    error AppealPeriodOpen(uint256 disputeId, uint40 appealEnds);
    error NoAppealLeft(uint256 disputeId);
    error NotLosingParty(address caller);
    error EarlierDisputeOpen(uint256 disputeId, uint256 earlierId);
    error JuryPoolFull(uint256 size);
    error JurorStakeTooLow(uint256 stake, uint256 required);
    error JurorBusy(address juror, uint8 activeSeats);
    error NotInJuryPool(address juror);

    constructor(
        IERC20 token_,
        StakeManager stakeManager_,
        JobMarket jobMarket_,
        address authority,
        CourtParams memory params_
    ) AccessManaged(authority) {
        token = token_;
        stakeManager = stakeManager_;
        jobMarket = jobMarket_;
        _setParams(params_);
    }

    // ---------------------------------------------------------------- challenges

    /// @notice Commits a challenge of job `jobId`, with commitment =
    /// keccak256(abi.encode(jobId, challenger, leafIndex, claimedDataHash, salt)). Pulls the
    /// challenge bond (needs an allowance to this contract), locks `challengerStakeAtRisk` of the
    /// caller's free stake and holds the job's settlement until this dispute closes. The caller
    /// needs the JobMarket's `verifierMinStake` staked and must be neither the job's provider nor
    /// its requester; the job must be Committed with its challenge window open.
    function commitChallenge(bytes32 jobId, bytes32 commitment) external nonReentrant returns (uint256 disputeId) {
        JobMarketState.Job memory job = jobMarket.getJob(jobId);
        if (msg.sender == job.provider || msg.sender == job.requester) revert PartyCannotChallenge(msg.sender);
        if (job.verification != 0) revert NotChallengeable(jobId);
        (uint256 staked,,) = stakeManager.stakeOf(msg.sender);
        uint256 required = jobMarket.verifierMinStake();
        if (staked < required) revert VerifierStakeTooLow(msg.sender, staked, required);

        CourtParams memory p = _params;
        disputeId = ++disputeCount;
        uint256[] storage ids = _jobDisputes[jobId];
        Dispute storage d = _disputes[disputeId];
        d.jobId = jobId;
        d.challenger = msg.sender;
        d.bond = p.challengeBond;
        d.commitment = commitment;
        d.stakeAtRisk = p.challengerStakeAtRisk;
        d.jurorPenalty = p.jurorPenalty;
        d.falseChallengeSlashBps = p.falseChallengeSlashBps;
        d.juryShareBps = p.juryShareBps;
        d.commitBlock = uint64(block.number);
        d.revealEnds = uint40(block.timestamp + p.revealPeriod);
        d.phase = Phase.Committed;
        d.seq = uint32(ids.length);
        d.concessionFee = p.concessionFee;
        ids.push(disputeId);
        emit ChallengeCommitted(disputeId, jobId, msg.sender, p.challengeBond, p.challengerStakeAtRisk);

        // reverts unless the job is Committed and its window open
        _marketHooks().holdForDispute(jobId);
        stakeManager.lock(msg.sender, p.challengerStakeAtRisk);
        token.safeTransferFrom(msg.sender, address(this), p.challengeBond);
    }

    /// @notice Opens a committed challenge, in a later block than its commitment and before its
    /// reveal deadline, and fixes the block whose hash will draw the first jury.
    function revealChallenge(uint256 disputeId, uint256 leafIndex, bytes32 claimedDataHash, bytes32 salt)
        external
        nonReentrant
    {
        Dispute storage d = _disputes[disputeId];
        if (d.phase != Phase.Committed) revert WrongPhase(disputeId, d.phase);
        if (msg.sender != d.challenger) revert NotChallenger(msg.sender, d.challenger);
        if (block.number <= d.commitBlock) revert RevealTooEarly(disputeId, d.commitBlock);
        if (block.timestamp > d.revealEnds) revert RevealPeriodOver(disputeId, d.revealEnds);
        bytes32 jobId = d.jobId;
        if (keccak256(abi.encode(jobId, msg.sender, leafIndex, claimedDataHash, salt)) != d.commitment) {
            revert CommitmentMismatch(disputeId);
        }
        uint32 leafCount = jobMarket.getJob(jobId).leafCount;
        if (leafIndex >= leafCount) revert LeafIndexOutOfRange(leafIndex, leafCount);

        CourtParams memory p = _params;
        d.leafIndex = uint32(leafIndex);
        d.claimedDataHash = claimedDataHash;
        d.maxRounds = p.maxRounds;
        d.rounds = 1;
        d.phase = Phase.AwaitingDraw;
        uint64 drawBlock = uint64(block.number) + p.drawDelay;
        Round storage r = _rounds[disputeId].push();
        r.size = p.jurySize;
        r.drawBlock = drawBlock;
        emit ChallengeRevealed(disputeId, jobId, leafIndex, claimedDataHash, drawBlock);
    }

    /// @notice After the reveal deadline of a challenge that was never revealed: its bond goes to
    /// the treasury (never to the provider), its stake is unlocked, the job's hold released.
    /// Anyone may call it.
    function expireChallenge(uint256 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        if (d.phase != Phase.Committed) revert WrongPhase(disputeId, d.phase);
        if (block.timestamp <= d.revealEnds) revert RevealPeriodOpen(disputeId, d.revealEnds);
        d.phase = Phase.Closed;
        uint256 bond = d.bond;
        emit ChallengeExpired(disputeId, d.jobId, bond);
        _marketHooks().releaseDispute(d.jobId);
        stakeManager.unlock(d.challenger, d.stakeAtRisk);
        token.safeTransfer(jobMarket.treasury(), bond);
    }

    /// @notice The challenger withdraws its own challenge before any jury is drawn: while it is
    /// sealed (before its reveal deadline), or revealed while its first draw block is not yet mined, so no one can know the jury
    /// (a concession is never an option taken on a known jury). The challenger pays the
    /// `concessionFee` copied at commit to the treasury (never to the provider: a cheater's sock
    /// puppet would get its fee back) and gets the rest of its bond back and its stake unlocked.
    /// Only this dispute's hold on the job ends; the window and the job's other disputes are unchanged.
    function concedeChallenge(uint256 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        if (msg.sender != d.challenger) revert NotChallenger(msg.sender, d.challenger);
        Phase phase = d.phase;
        if (phase == Phase.AwaitingDraw) {
            Round[] storage rounds = _rounds[disputeId];
            uint64 drawBlock = rounds[0].drawBlock;
            if (rounds.length != 1 || block.number > drawBlock) revert JuryKnowable(disputeId, drawBlock);
        } else if (phase != Phase.Committed) {
            revert WrongPhase(disputeId, phase);
        } else if (block.timestamp > d.revealEnds) {
            // past it the whole bond is the treasury's (`expireChallenge`), as before concessions
            revert RevealPeriodOver(disputeId, d.revealEnds);
        }
        d.phase = Phase.Closed;
        bytes32 jobId = d.jobId;
        uint256 fee = d.concessionFee;
        emit ChallengeConceded(disputeId, jobId, msg.sender, fee);
        _marketHooks().releaseDispute(jobId);
        stakeManager.unlock(msg.sender, d.stakeAtRisk);
        token.safeTransfer(msg.sender, d.bond - fee);
        token.safeTransfer(jobMarket.treasury(), fee);
    }

    // ---------------------------------------------------------------- jury pool

    /// @notice Locks `amount` more of the caller's free stake as juror stake, entering the pool
    /// if the caller is not in it yet. The juror stake must reach `jurorMinStake`.
    function joinJury(uint256 amount) external nonReentrant {
        uint256 pos = _poolIndex[msg.sender];
        if (pos == 0) {
            if (_pool.length >= MAX_JURY_POOL) revert JuryPoolFull(_pool.length);
            _pool.push(PoolEntry({juror: msg.sender, stake: 0, active: 0}));
            pos = _pool.length;
            _poolIndex[msg.sender] = pos;
        }
        PoolEntry storage e = _pool[pos - 1];
        uint88 stake_ = e.stake + SafeCast.toUint88(amount);
        if (stake_ < _params.jurorMinStake) revert JurorStakeTooLow(stake_, _params.jurorMinStake);
        e.stake = stake_;
        emit JurorJoined(msg.sender, amount, stake_);
        stakeManager.lock(msg.sender, amount);
    }

    /// @notice Leaves the pool and unlocks the whole juror stake; only with no seat in an open dispute.
    function leaveJury() external nonReentrant {
        uint256 pos = _poolIndex[msg.sender];
        if (pos == 0) revert NotInJuryPool(msg.sender);
        PoolEntry memory e = _pool[pos - 1];
        if (e.active != 0) revert JurorBusy(msg.sender, e.active);
        PoolEntry memory last = _pool[_pool.length - 1];
        _pool[pos - 1] = last;
        _poolIndex[last.juror] = pos;
        _pool.pop();
        delete _poolIndex[msg.sender];
        emit JurorLeft(msg.sender, e.stake);
        stakeManager.unlock(msg.sender, e.stake);
    }

    // ---------------------------------------------------------------- jury

    /// @notice Draws the current round's jury once its draw block is mined: stake-weighted
    /// sortition without replacement over the pool (at most MAX_JURY_POOL entries), seeded by
    /// the draw block's hash, excluding the job's provider and requester and the challenger, and
    /// jurors whose stake cannot answer for one more seat. If the draw block is older than 256
    /// blocks its hash is gone: the draw is re-targeted `drawDelay` blocks ahead instead. If the
    /// pool cannot seat the jury the dispute is ruled at once (the last ruling stands, or
    /// NOT_PROVEN in the first round) with no appeal. Anyone may call it.
    function drawJury(uint256 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        if (d.phase != Phase.AwaitingDraw) revert WrongPhase(disputeId, d.phase);
        Round[] storage rounds = _rounds[disputeId];
        uint256 ri = rounds.length - 1;
        Round storage r = rounds[ri];
        if (block.number <= r.drawBlock) revert DrawTooEarly(disputeId, r.drawBlock);
        bytes32 seed = blockhash(r.drawBlock);
        if (seed == bytes32(0)) {
            uint64 drawBlock = uint64(block.number) + _params.drawDelay;
            r.drawBlock = drawBlock;
            emit DrawRetargeted(disputeId, ri, drawBlock);
            return;
        }
        address[] memory seats = _sortition(d, r.size, keccak256(abi.encode(seed, disputeId, ri)));
        if (seats.length == 0) {
            uint8 ruling = d.ruling == RULING_NONE ? RULING_NOT_PROVEN : d.ruling;
            d.ruling = ruling;
            d.isFinal = true;
            d.phase = Phase.Ruled;
            d.appealEnds = uint40(block.timestamp);
            emit JuryUnfilled(disputeId, ri, ruling);
            return;
        }
        for (uint256 i; i < seats.length; ++i) {
            _pool[_poolIndex[seats[i]] - 1].active += 1;
        }
        CourtParams memory p = _params;
        uint40 commitEnds = uint40(block.timestamp + p.voteCommitPeriod);
        uint40 revealEnds = commitEnds + p.voteRevealPeriod;
        r.jurors = seats;
        r.commitEnds = commitEnds;
        r.revealEnds = revealEnds;
        d.phase = Phase.Voting;
        emit JuryDrawn(disputeId, ri, seats, commitEnds, revealEnds);
    }

    /// @dev Returns `size` distinct jurors, or an empty array when the eligible stake cannot seat them.
    function _sortition(Dispute storage d, uint256 size, bytes32 seed) private view returns (address[] memory seats) {
        JobMarketState.Job memory job = jobMarket.getJob(d.jobId);
        address challenger = d.challenger;
        uint256 minStake = _params.jurorMinStake;
        uint256 penalty = _params.jurorPenalty;
        uint256 n = _pool.length;
        uint256[] memory weights = new uint256[](n);
        address[] memory who = new address[](n);
        uint256 total;
        uint256 eligible;
        for (uint256 i; i < n; ++i) {
            PoolEntry memory e = _pool[i];
            who[i] = e.juror;
            if (e.juror == job.provider || e.juror == job.requester || e.juror == challenger) continue;
            if (e.stake < minStake || e.active == type(uint8).max || e.stake < (uint256(e.active) + 1) * penalty) {
                continue;
            }
            weights[i] = e.stake;
            total += e.stake;
            ++eligible;
        }
        if (eligible < size) return new address[](0);
        seats = new address[](size);
        for (uint256 s; s < size; ++s) {
            uint256 x = uint256(keccak256(abi.encode(seed, s))) % total;
            uint256 i;
            while (x >= weights[i]) {
                x -= weights[i];
                ++i;
            }
            seats[s] = who[i];
            total -= weights[i];
            weights[i] = 0;
        }
    }

    /// @notice A drawn juror's sealed vote: keccak256(abi.encode(disputeId, round, juror, choice, salt))
    /// with choice RULING_GUILTY or RULING_NOT_GUILTY; before the round's commit deadline.
    function commitVote(uint256 disputeId, bytes32 commitment) external {
        (Round storage r, uint256 ri) = _votingRound(disputeId);
        if (block.timestamp > r.commitEnds) revert VoteCommitOver(disputeId, r.commitEnds);
        Vote storage v = _seat(disputeId, ri, r);
        if (v.commitment != bytes32(0)) revert VoteAlreadyCommitted(disputeId, msg.sender);
        v.commitment = commitment;
        r.committed += 1;
        emit VoteCommitted(disputeId, ri, msg.sender);
    }

    /// @notice Opens a committed vote, once the commit deadline has passed or every juror has
    /// committed, and before the round's reveal deadline.
    function revealVote(uint256 disputeId, uint8 choice, bytes32 salt) external {
        (Round storage r, uint256 ri) = _votingRound(disputeId);
        if (block.timestamp <= r.commitEnds && r.committed < r.jurors.length) revert VoteRevealNotOpen(disputeId);
        if (block.timestamp > r.revealEnds) revert VoteRevealOver(disputeId, r.revealEnds);
        if (choice != RULING_GUILTY && choice != RULING_NOT_GUILTY) revert InvalidVote(choice);
        Vote storage v = _seat(disputeId, ri, r);
        if (v.choice != 0 || keccak256(abi.encode(disputeId, ri, msg.sender, choice, salt)) != v.commitment) {
            revert VoteMismatch(disputeId, msg.sender);
        }
        v.choice = choice;
        r.revealed += 1;
        if (choice == RULING_GUILTY) r.guilty += 1;
        emit VoteRevealed(disputeId, ri, msg.sender, choice);
    }

    /// @notice Rules the current round after its reveal deadline, or as soon as every juror has
    /// revealed: the majority of revealed votes decides. A tie (no reveal at all included) draws
    /// the round once more; a tie again rules NOT_PROVEN. Opens the appeal period. Anyone may call it.
    function rule(uint256 disputeId) external nonReentrant {
        (Round storage r, uint256 ri) = _votingRound(disputeId);
        if (block.timestamp <= r.revealEnds && r.revealed < r.jurors.length) {
            revert VotingOpen(disputeId, r.revealEnds);
        }
        Dispute storage d = _disputes[disputeId];
        uint256 guilty = r.guilty;
        uint256 notGuilty = r.revealed - guilty;
        if (guilty == notGuilty && !r.redraw) {
            uint64 drawBlock = uint64(block.number) + _params.drawDelay;
            Round storage again = _rounds[disputeId].push();
            again.size = r.size;
            again.redraw = true;
            again.drawBlock = drawBlock;
            d.phase = Phase.AwaitingDraw;
            emit Redraw(disputeId, ri + 1, drawBlock);
            return;
        }
        uint8 ruling =
            guilty > notGuilty ? RULING_GUILTY : (notGuilty > guilty ? RULING_NOT_GUILTY : RULING_NOT_PROVEN);
        uint40 appealEnds = uint40(block.timestamp + _params.appealPeriod);
        d.ruling = ruling;
        d.phase = Phase.Ruled;
        d.appealEnds = appealEnds;
        emit Ruled(disputeId, ri, ruling, guilty, notGuilty, appealEnds);
    }

    /// @notice Appeals the ruling within the appeal period: the challenger against NOT_GUILTY or
    /// NOT_PROVEN, the provider against GUILTY. Pulls the challenge bond times 2^(appeal number)
    /// and draws a jury of 2n+1 for the last jury's n. At most `maxRounds` rounds in all.
    function appeal(uint256 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        if (d.phase != Phase.Ruled) revert WrongPhase(disputeId, d.phase);
        if (block.timestamp >= d.appealEnds) revert AppealPeriodOver(disputeId, d.appealEnds);
        if (d.isFinal || d.rounds >= d.maxRounds) revert NoAppealLeft(disputeId);
        address loser = d.ruling == RULING_GUILTY ? jobMarket.getJob(d.jobId).provider : d.challenger;
        if (msg.sender != loser) revert NotLosingParty(msg.sender);
        Round[] storage rounds = _rounds[disputeId];
        uint8 size = rounds[rounds.length - 1].size * 2 + 1;
        uint96 bond = d.bond << d.rounds;
        uint64 drawBlock = uint64(block.number) + _params.drawDelay;
        d.rounds += 1;
        d.phase = Phase.AwaitingDraw;
        Round storage r = rounds.push();
        r.size = size;
        r.appellant = msg.sender;
        r.appealBond = bond;
        r.drawBlock = drawBlock;
        emit Appealed(disputeId, rounds.length - 1, msg.sender, bond, drawBlock);
        token.safeTransferFrom(msg.sender, address(this), bond);
    }

    // ---------------------------------------------------------------- execution

    /// @notice Applies the final ruling once the appeal period is over (or no appeal is left).
    /// GUILTY: the provider is convicted through `JobMarket.convict` (the requester refunded, the
    /// challenger paid its reward and its bond back, the jury share sent here), unless an earlier
    /// dispute convicted the job already: then the challenger only gets its bond and stake back.
    /// A guilty ruling waits until every earlier-committed dispute on the job has closed, so the
    /// reward always goes to the earliest committed upheld challenge (a copier commits later).
    /// NOT_GUILTY: the challenger loses its bond(s) and `falseChallengeSlashBps` of its locked
    /// stake. NOT_PROVEN: bonds back, nobody slashed. An appellant whose side lost loses its
    /// appeal bond. Lost money goes `juryShareBps` to the coherent jurors and the rest to the
    /// treasury; jurors who voted against the ruling or did not reveal lose `jurorPenalty` to the
    /// coherent ones; with no coherent juror, or as rounding dust, it goes to the treasury.
    function execute(uint256 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        if (d.phase != Phase.Ruled) revert WrongPhase(disputeId, d.phase);
        if (block.timestamp < d.appealEnds && !d.isFinal && d.rounds < d.maxRounds) {
            revert AppealPeriodOpen(disputeId, d.appealEnds);
        }
        bytes32 jobId = d.jobId;
        uint8 ruling = d.ruling;
        d.phase = Phase.Closed;
        _marketHooks().releaseDispute(jobId);

        uint256 juryPot;
        bool convicted;
        if (ruling == RULING_GUILTY) (convicted, juryPot) = _convict(disputeId, d);
        uint256 lost = _settleChallenger(d, ruling);
        lost += _settleAppeals(disputeId, ruling);
        uint256 juryFromLost = lost * d.juryShareBps / BPS;
        juryPot += juryFromLost;
        uint256 toTreasury = lost - juryFromLost + _settleJurors(disputeId, d, ruling, juryPot);
        emit DisputeExecuted(disputeId, jobId, ruling, convicted, ruling == RULING_NOT_GUILTY ? lost : 0, juryPot, toTreasury);
        if (toTreasury > 0) token.safeTransfer(jobMarket.treasury(), toTreasury);
    }

    function _convict(uint256 disputeId, Dispute storage d) private returns (bool convicted, uint256 juryPot) {
        bytes32 jobId = d.jobId;
        uint256[] storage ids = _jobDisputes[jobId];
        for (uint256 i; i < d.seq; ++i) {
            if (_disputes[ids[i]].phase != Phase.Closed) revert EarlierDisputeOpen(disputeId, ids[i]);
        }
        // a job an earlier dispute already convicted is not convicted twice
        if (jobMarket.getJob(jobId).status == JobMarketState.JobStatus.Committed) {
            (,, juryPot) = _marketHooks().convict(jobId, d.challenger, address(this), d.juryShareBps);
            convicted = true;
        }
    }

    /// @dev Returns the challenger's loss (bond and slashed stake, NOT_GUILTY only); pays the rest back.
    function _settleChallenger(Dispute storage d, uint8 ruling) private returns (uint256 lost) {
        address challenger = d.challenger;
        uint256 atRisk = d.stakeAtRisk;
        if (ruling == RULING_NOT_GUILTY) {
            uint256 slashed = atRisk * d.falseChallengeSlashBps / BPS;
            stakeManager.slash(challenger, atRisk, slashed, address(this));
            return d.bond + slashed;
        }
        stakeManager.unlock(challenger, atRisk);
        token.safeTransfer(challenger, d.bond);
    }

    /// @dev Appeal bonds: back to an appellant whose side won, whose round found no jury, or when
    /// nothing was proven; lost otherwise (returned).
    function _settleAppeals(uint256 disputeId, uint8 ruling) private returns (uint256 lost) {
        Round[] storage rounds = _rounds[disputeId];
        address challenger = _disputes[disputeId].challenger;
        for (uint256 i = 1; i < rounds.length; ++i) {
            Round storage r = rounds[i];
            address appellant = r.appellant;
            if (appellant == address(0)) continue;
            uint8 wanted = appellant == challenger ? RULING_GUILTY : RULING_NOT_GUILTY;
            if (ruling == wanted || ruling == RULING_NOT_PROVEN || r.jurors.length == 0) {
                token.safeTransfer(appellant, r.appealBond);
            } else {
                lost += r.appealBond;
            }
        }
    }

    /// @dev Frees every seat; penalizes incoherent and silent jurors into the pot, then shares the
    /// pot among the coherent ones. Returns what goes to the treasury (dust, or all with no coherent juror).
    function _settleJurors(uint256 disputeId, Dispute storage d, uint8 ruling, uint256 pot)
        private
        returns (uint256 toTreasury)
    {
        Round[] storage rounds = _rounds[disputeId];
        uint256 penalty = d.jurorPenalty;
        uint256 coherent;
        for (uint256 ri; ri < rounds.length; ++ri) {
            address[] storage jurors = rounds[ri].jurors;
            for (uint256 j; j < jurors.length; ++j) {
                address juror = jurors[j];
                uint8 choice = _votes[disputeId][ri][juror].choice;
                PoolEntry storage e = _pool[_poolIndex[juror] - 1];
                e.active -= 1;
                if (choice != 0 && (choice == ruling || ruling == RULING_NOT_PROVEN)) {
                    if (choice == ruling) ++coherent;
                    continue;
                }
                uint256 p = penalty < e.stake ? penalty : e.stake;
                e.stake -= uint88(p);
                pot += p;
                emit JurorPenalized(disputeId, juror, p);
                stakeManager.slash(juror, p, p, address(this));
            }
        }
        if (coherent == 0) return pot;
        uint256 each = pot / coherent;
        for (uint256 ri; ri < rounds.length; ++ri) {
            address[] storage jurors = rounds[ri].jurors;
            for (uint256 j; j < jurors.length; ++j) {
                address juror = jurors[j];
                if (_votes[disputeId][ri][juror].choice != ruling) continue;
                emit JurorPaid(disputeId, juror, each);
                if (each > 0) token.safeTransfer(juror, each);
            }
        }
        return pot - each * coherent;
    }

    // ---------------------------------------------------------------- helpers

    function _votingRound(uint256 disputeId) private view returns (Round storage r, uint256 ri) {
        Dispute storage d = _disputes[disputeId];
        if (d.phase != Phase.Voting) revert WrongPhase(disputeId, d.phase);
        Round[] storage rounds = _rounds[disputeId];
        ri = rounds.length - 1;
        r = rounds[ri];
    }

    function _seat(uint256 disputeId, uint256 ri, Round storage r) private view returns (Vote storage) {
        address[] storage jurors = r.jurors;
        for (uint256 i; i < jurors.length; ++i) {
            if (jurors[i] == msg.sender) return _votes[disputeId][ri][msg.sender];
        }
        revert NotJuror(disputeId, msg.sender);
    }

    // ---------------------------------------------------------------- governance (AccessManager)

    /// @notice Sets every court parameter at once (see CourtParams); applies to disputes
    /// committed from now on (their money terms and sizes are copied when they start).
    function setParams(CourtParams calldata params_) external restricted {
        _setParams(params_);
    }

    function _setParams(CourtParams memory p) private {
        if (p.challengeBond == 0) revert InvalidParameter("challengeBond");
        if (p.challengerStakeAtRisk == 0) revert InvalidParameter("challengerStakeAtRisk");
        if (p.falseChallengeSlashBps > BPS) revert InvalidParameter("falseChallengeSlashBps");
        if (p.juryShareBps > BPS) revert InvalidParameter("juryShareBps");
        if (p.jurySize == 0 || p.jurySize % 2 == 0 || p.jurySize > MAX_JURY_SIZE) revert InvalidParameter("jurySize");
        if (p.maxRounds == 0 || p.maxRounds > MAX_ROUNDS) revert InvalidParameter("maxRounds");
        // at least one block, so the seed is unknown when the reveal is sent; at most 128 so it is
        // still readable (256 blocks) for a while after it is mined
        if (p.drawDelay == 0 || p.drawDelay > 128) revert InvalidParameter("drawDelay");
        if (p.jurorPenalty == 0 || p.jurorMinStake < p.jurorPenalty) revert InvalidParameter("jurorPenalty");
        if (!_period(p.revealPeriod) || !_period(p.voteCommitPeriod) || !_period(p.voteRevealPeriod)) {
            revert InvalidParameter("period");
        }
        if (!_period(p.appealPeriod)) revert InvalidParameter("appealPeriod");
        // a free concession would make challenge-and-concede griefing cost gas only; more than the
        // bond would punish a challenger who concedes more than one who lets its challenge expire
        if (p.concessionFee == 0 || p.concessionFee > p.challengeBond) revert InvalidParameter("concessionFee");
        // the largest appeal bond (bond << (maxRounds - 1)) must fit the uint96 it is stored in
        if (uint256(p.challengeBond) << (p.maxRounds - 1) > type(uint96).max) revert InvalidParameter("challengeBond");
        _params = p;
        emit CourtParamsUpdated(p);
    }

    function _period(uint32 seconds_) private pure returns (bool) {
        return seconds_ != 0 && seconds_ <= MAX_PERIOD;
    }

    // ---------------------------------------------------------------- views

    function params() external view returns (CourtParams memory) {
        return _params;
    }

    /// @inheritdoc IDisputeCourt
    function disputeOutcome(uint256 disputeId) external view returns (bytes32 jobId, bool closed, uint8 ruling) {
        Dispute storage d = _disputes[disputeId];
        return (d.jobId, d.phase == Phase.Closed, d.ruling);
    }

    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    function getRound(uint256 disputeId, uint256 round) external view returns (Round memory) {
        return _rounds[disputeId][round];
    }

    function roundCount(uint256 disputeId) external view returns (uint256) {
        return _rounds[disputeId].length;
    }

    function getVote(uint256 disputeId, uint256 round, address juror) external view returns (Vote memory) {
        return _votes[disputeId][round][juror];
    }

    function disputesOf(bytes32 jobId) external view returns (uint256[] memory) {
        return _jobDisputes[jobId];
    }

    /// @return stake locked as juror stake, activeSeats seats in open disputes (0, 0: not in the pool)
    function jurorOf(address juror) external view returns (uint256 stake, uint256 activeSeats) {
        uint256 pos = _poolIndex[juror];
        if (pos == 0) return (0, 0);
        PoolEntry memory e = _pool[pos - 1];
        return (e.stake, e.active);
    }

    function jurorPoolSize() external view returns (uint256) {
        return _pool.length;
    }

    /// @dev The JobMarket's court hooks run in its extension (through the market's fallback), so
    /// they are called on the market's address with the extension's ABI.
    function _marketHooks() private view returns (JobMarketExtension) {
        return JobMarketExtension(address(jobMarket));
    }
}
