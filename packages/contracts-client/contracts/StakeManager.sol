// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

interface IChallengeWindow {
    function challengeWindow() external view returns (uint64);
}

/// @title StakeManager: OPEN stake of providers and verifiers
/// @notice Stake backs providers' job collateral and verifiers' right to challenge. The job
/// market locks a job's collateral out of free stake at award and unlocks or slashes it at
/// settlement; locked stake can never enter unbonding, so a provider cannot walk away from a
/// job it is answerable for. Unbonding stake stays in this contract for `unbondingDelay`,
/// which is never shorter than the market's challenge window.
contract StakeManager is AccessManaged, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev One slot per account: `staked` includes `locked`.
    struct Account {
        uint128 staked;
        uint128 locked;
    }

    struct Unbonding {
        uint128 amount;
        uint64 readyAt;
    }

    IERC20 public immutable token;
    /// @notice One of the two contracts allowed to lock, unlock and slash (job collateral).
    /// Immutable (its address is known before it is deployed) so the hot path pays no storage
    /// read for the check.
    address public immutable jobMarket;
    /// @notice The other one: the DisputeCourt locks challengers' stake at risk and jurors'
    /// stake, and slashes false challengers and incoherent jurors. Immutable like `jobMarket`;
    /// address(0) for a deployment without a court. Each locker only ever releases or slashes
    /// what it locked itself (both keep their own books), so neither can touch the other's locks.
    address public immutable court;

    uint64 public unbondingDelay;

    mapping(address account => Account) private _accounts;
    mapping(address account => Unbonding) private _unbondings;

    event Staked(address indexed account, uint256 amount, uint256 staked);
    event UnbondingRequested(address indexed account, uint256 amount, uint256 unbonding, uint64 readyAt);
    event Withdrawn(address indexed account, uint256 amount);
    event Slashed(address indexed account, uint256 amount, address indexed to);
    event UnbondingDelayUpdated(uint64 delay);

    error OnlyLocker(address caller);
    error ZeroAmount();
    error InsufficientFreeStake(address account, uint256 free, uint256 needed);
    error InsufficientLockedStake(address account, uint256 locked, uint256 needed);
    error NothingUnbonding(address account);
    error UnbondingNotReady(address account, uint64 readyAt, uint64 now_);
    error UnbondingDelayTooShort(uint64 delay, uint64 challengeWindow);

    modifier onlyLocker() {
        if (msg.sender != jobMarket && msg.sender != court) {
            revert OnlyLocker(msg.sender);
        }
        _;
    }

    constructor(IERC20 token_, address jobMarket_, address court_, address authority, uint64 unbondingDelay_)
        AccessManaged(authority)
    {
        token = token_;
        jobMarket = jobMarket_;
        court = court_;
        unbondingDelay = unbondingDelay_;
        emit UnbondingDelayUpdated(unbondingDelay_);
    }

    // ---------------------------------------------------------------- stakers

    function stake(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender];
        uint128 staked = a.staked + SafeCast.toUint128(amount);
        a.staked = staked;
        emit Staked(msg.sender, amount, staked);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Moves free stake into unbonding; a new request restarts the delay for the whole
    /// unbonding amount, so the delay always covers the newest stake leaving.
    function requestUnbonding(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender];
        uint256 free = a.staked - a.locked;
        if (amount > free) revert InsufficientFreeStake(msg.sender, free, amount);
        a.staked -= uint128(amount);
        Unbonding storage u = _unbondings[msg.sender];
        uint128 unbonding = u.amount + uint128(amount);
        uint64 readyAt = uint64(block.timestamp) + unbondingDelay;
        u.amount = unbonding;
        u.readyAt = readyAt;
        emit UnbondingRequested(msg.sender, amount, unbonding, readyAt);
    }

    function withdraw() external nonReentrant {
        Unbonding memory u = _unbondings[msg.sender];
        if (u.amount == 0) revert NothingUnbonding(msg.sender);
        if (block.timestamp < u.readyAt) revert UnbondingNotReady(msg.sender, u.readyAt, uint64(block.timestamp));
        delete _unbondings[msg.sender];
        emit Withdrawn(msg.sender, u.amount);
        token.safeTransfer(msg.sender, u.amount);
    }

    // ---------------------------------------------------------------- job market and court

    function lock(address account, uint256 amount) external onlyLocker {
        Account storage a = _accounts[account];
        uint256 free = a.staked - a.locked;
        if (amount > free) revert InsufficientFreeStake(account, free, amount);
        a.locked += uint128(amount);
    }

    function unlock(address account, uint256 amount) external onlyLocker {
        Account storage a = _accounts[account];
        if (amount > a.locked) revert InsufficientLockedStake(account, a.locked, amount);
        a.locked -= uint128(amount);
    }

    /// @notice Releases `lockedAmount` of `account`'s collateral and takes `penalty` (at most
    /// the released collateral) out of its stake, sending it to `to`.
    function slash(address account, uint256 lockedAmount, uint256 penalty, address to) external onlyLocker {
        Account storage a = _accounts[account];
        if (lockedAmount > a.locked) revert InsufficientLockedStake(account, a.locked, lockedAmount);
        if (penalty > lockedAmount) revert InsufficientLockedStake(account, lockedAmount, penalty);
        a.locked -= uint128(lockedAmount);
        a.staked -= uint128(penalty);
        emit Slashed(account, penalty, to);
        if (penalty > 0) token.safeTransfer(to, penalty);
    }

    // ---------------------------------------------------------------- governance

    function setUnbondingDelay(uint64 delay) external restricted {
        uint64 window = IChallengeWindow(jobMarket).challengeWindow();
        if (delay < window) revert UnbondingDelayTooShort(delay, window);
        unbondingDelay = delay;
        emit UnbondingDelayUpdated(delay);
    }

    // ---------------------------------------------------------------- views

    /// @return staked total stake (locked included), locked collateral, free stake
    function stakeOf(address account) external view returns (uint256 staked, uint256 locked, uint256 free) {
        Account memory a = _accounts[account];
        return (a.staked, a.locked, a.staked - a.locked);
    }

    function freeStakeOf(address account) external view returns (uint256) {
        Account memory a = _accounts[account];
        return a.staked - a.locked;
    }

    function lockedStakeOf(address account) external view returns (uint256) {
        return _accounts[account].locked;
    }

    function unbondingOf(address account) external view returns (uint256 amount, uint64 readyAt) {
        Unbonding memory u = _unbondings[account];
        return (u.amount, u.readyAt);
    }
}
