// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title Council
/// @notice The technical committee's bounded, rate-limited operational powers. Governance (the
/// timelock) delegates a parameter setter to the council by giving it hard bounds: a range
/// [min, max], a cooldown between two changes and a delay before a change takes effect. A
/// council member may then schedule a new value inside the range, at most once per cooldown;
/// the change waits out the delay, during which governance can veto it, and only then can anyone
/// execute it. The call goes to the target through its AccessManager, so the council must also
/// hold the setter's role there: the AccessManager says *whether* the council may call, this
/// contract says *what values and how often*.
/// @dev Structural changes (the bounds themselves, the membership, treasury, upgrades, any
/// parameter without bounds) are governance-only: every such function here is onlyGovernance.
/// Values are passed as the setter's single unsigned integer argument (uint8 … uint128), ABI
/// encoded as one word; the max bound keeps them within the setter's type.
contract Council {
    enum ChangeState {
        None,
        Scheduled,
        Executed,
        Vetoed,
        Cancelled
    }

    struct Bounds {
        uint128 min;
        uint128 max;
        /// seconds between two scheduled changes of the same parameter (rate cap)
        uint32 cooldown;
        /// seconds between scheduling and earliest execution (the veto window)
        uint32 delay;
        bool enabled;
    }

    struct Change {
        address target;
        bytes4 selector;
        uint64 eta;
        ChangeState state;
        uint128 value;
        address proposer;
    }

    /// @notice The only address that may set bounds and members, and veto: the governance timelock.
    address public immutable governance;

    mapping(address member => bool) public isMember;
    mapping(address target => mapping(bytes4 selector => Bounds)) private _bounds;
    /// when the parameter was last scheduled (vetoed and cancelled changes still count, so the
    /// council cannot flood governance with changes to veto)
    mapping(address target => mapping(bytes4 selector => uint64)) public lastScheduledAt;
    /// id + 1 of the change waiting for that parameter, 0 when none
    mapping(address target => mapping(bytes4 selector => uint256)) private _pending;
    mapping(uint256 id => Change) private _changes;
    uint256 public changeCount;

    event MemberSet(address indexed member, bool isMember);
    event BoundsSet(
        address indexed target, bytes4 indexed selector, uint128 min, uint128 max, uint32 cooldown, uint32 delay
    );
    event BoundsRemoved(address indexed target, bytes4 indexed selector);
    event ChangeScheduled(
        uint256 indexed id, address indexed target, bytes4 indexed selector, uint128 value, uint64 eta, address proposer
    );
    event ChangeExecuted(uint256 indexed id);
    event ChangeVetoed(uint256 indexed id);
    event ChangeCancelled(uint256 indexed id);

    error CouncilOnlyGovernance(address caller);
    error CouncilOnlyMember(address caller);
    error CouncilInvalidBounds(uint128 min, uint128 max, uint32 delay);
    error CouncilParameterNotDelegated(address target, bytes4 selector);
    error CouncilValueOutOfRange(uint128 value, uint128 min, uint128 max);
    error CouncilCooldown(address target, bytes4 selector, uint64 readyAt);
    error CouncilChangePending(uint256 id);
    error CouncilUnexpectedState(uint256 id, ChangeState state);
    error CouncilTooEarly(uint256 id, uint64 eta);

    modifier onlyGovernance() {
        if (msg.sender != governance) revert CouncilOnlyGovernance(msg.sender);
        _;
    }

    modifier onlyMember() {
        if (!isMember[msg.sender]) revert CouncilOnlyMember(msg.sender);
        _;
    }

    struct InitialBounds {
        address target;
        bytes4 selector;
        uint128 min;
        uint128 max;
        uint32 cooldown;
        uint32 delay;
    }

    constructor(address governance_, address[] memory members, InitialBounds[] memory bounds) {
        governance = governance_;
        for (uint256 i = 0; i < members.length; i++) {
            _setMember(members[i], true);
        }
        for (uint256 i = 0; i < bounds.length; i++) {
            InitialBounds memory b = bounds[i];
            _setBounds(b.target, b.selector, b.min, b.max, b.cooldown, b.delay);
        }
    }

    // ---- governance (structural tier) ----

    function setMember(address member, bool member_) external onlyGovernance {
        _setMember(member, member_);
    }

    /// @notice Delegates (or re-bounds) a parameter. Narrowing a range also binds changes already
    /// scheduled: they are checked again when executed.
    function setBounds(address target, bytes4 selector, uint128 min, uint128 max, uint32 cooldown, uint32 delay)
        external
        onlyGovernance
    {
        _setBounds(target, selector, min, max, cooldown, delay);
    }

    /// @notice Takes a parameter back from the council; a waiting change can then never execute.
    function removeBounds(address target, bytes4 selector) external onlyGovernance {
        delete _bounds[target][selector];
        emit BoundsRemoved(target, selector);
    }

    /// @notice Governance's veto of a scheduled change, any time before it executes.
    function veto(uint256 id) external onlyGovernance {
        _close(id, ChangeState.Vetoed);
        emit ChangeVetoed(id);
    }

    // ---- council (routine and medium tiers) ----

    /// @notice Schedules `target.selector(value)`; executable after the parameter's delay.
    function schedule(address target, bytes4 selector, uint128 value) external onlyMember returns (uint256 id) {
        Bounds memory b = _bounds[target][selector];
        if (!b.enabled) revert CouncilParameterNotDelegated(target, selector);
        if (value < b.min || value > b.max) revert CouncilValueOutOfRange(value, b.min, b.max);
        uint256 pending = _pending[target][selector];
        if (pending != 0) revert CouncilChangePending(pending - 1);
        uint64 last = lastScheduledAt[target][selector];
        // the first change of a parameter is not rate-limited (last == 0)
        if (last != 0 && block.timestamp < uint256(last) + b.cooldown) {
            revert CouncilCooldown(target, selector, last + b.cooldown);
        }
        id = changeCount++;
        uint64 eta = uint64(block.timestamp) + b.delay;
        _changes[id] = Change(target, selector, eta, ChangeState.Scheduled, value, msg.sender);
        _pending[target][selector] = id + 1;
        lastScheduledAt[target][selector] = uint64(block.timestamp);
        emit ChangeScheduled(id, target, selector, value, eta, msg.sender);
    }

    /// @notice Withdraws a change the council scheduled (it still counts against the cooldown).
    function cancel(uint256 id) external onlyMember {
        _close(id, ChangeState.Cancelled);
        emit ChangeCancelled(id);
    }

    /// @notice Applies a scheduled change after its delay. Anyone may call: the decision was
    /// taken when it was scheduled and not vetoed. The bounds are checked again, so a range that
    /// governance narrowed or removed meanwhile wins.
    function execute(uint256 id) external {
        Change memory c = _changes[id];
        if (c.state != ChangeState.Scheduled) revert CouncilUnexpectedState(id, c.state);
        if (block.timestamp < c.eta) revert CouncilTooEarly(id, c.eta);
        Bounds memory b = _bounds[c.target][c.selector];
        if (!b.enabled) revert CouncilParameterNotDelegated(c.target, c.selector);
        if (c.value < b.min || c.value > b.max) revert CouncilValueOutOfRange(c.value, b.min, b.max);
        _changes[id].state = ChangeState.Executed;
        delete _pending[c.target][c.selector];
        emit ChangeExecuted(id);
        Address.functionCall(c.target, abi.encodeWithSelector(c.selector, uint256(c.value)));
    }

    // ---- views ----

    function boundsOf(address target, bytes4 selector) external view returns (Bounds memory) {
        return _bounds[target][selector];
    }

    function getChange(uint256 id) external view returns (Change memory) {
        return _changes[id];
    }

    /// @notice The id of the change waiting for a parameter; `exists` false when none.
    function pendingChange(address target, bytes4 selector) external view returns (bool exists, uint256 id) {
        uint256 p = _pending[target][selector];
        return (p != 0, p == 0 ? 0 : p - 1);
    }

    // ---- internals ----

    function _setMember(address member, bool member_) private {
        isMember[member] = member_;
        emit MemberSet(member, member_);
    }

    function _setBounds(address target, bytes4 selector, uint128 min, uint128 max, uint32 cooldown, uint32 delay)
        private
    {
        // a zero delay would leave governance no veto window at all
        if (min > max || delay == 0) revert CouncilInvalidBounds(min, max, delay);
        _bounds[target][selector] = Bounds(min, max, cooldown, delay, true);
        emit BoundsSet(target, selector, min, max, cooldown, delay);
    }

    function _close(uint256 id, ChangeState to) private {
        Change storage c = _changes[id];
        if (c.state != ChangeState.Scheduled) revert CouncilUnexpectedState(id, c.state);
        c.state = to;
        delete _pending[c.target][c.selector];
    }
}
