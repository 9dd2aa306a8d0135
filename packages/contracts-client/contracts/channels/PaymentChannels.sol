// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title PaymentChannels: unidirectional OPEN channels from a requester to a provider
/// @notice A requester locks a deposit for one provider and then pays per inference request
/// off-chain, by signing EIP-712 vouchers that carry the *cumulative* amount owed. The
/// provider redeems the latest voucher whenever it likes; only the difference to what was
/// already paid moves, so an older or replayed voucher pays nothing (and reverts). The
/// requester recovers the unspent deposit by starting a close and waiting `closeTimeout`,
/// during which the provider can still redeem its latest voucher: that delay is what makes
/// serving before being paid safe for the provider.
contract PaymentChannels is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev Three slots. `closesAt` is 0 while no close was requested.
    struct Channel {
        address requester;
        uint48 closeTimeout;
        uint48 closesAt;
        address provider;
        bool finalized;
        uint128 deposit;
        uint128 paid;
    }

    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");

    /// @notice Bounds of the close timeout: long enough for a provider to notice a close
    /// and redeem, short enough that a requester's deposit is never stuck for long.
    uint48 public constant MIN_CLOSE_TIMEOUT = 60;
    uint48 public constant MAX_CLOSE_TIMEOUT = 30 days;

    IERC20 public immutable token;

    /// @notice Channels opened so far; part of each channel id so ids never repeat.
    uint256 public channelCount;

    mapping(bytes32 channelId => Channel) private _channels;

    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed requester,
        address indexed provider,
        uint256 deposit,
        uint48 closeTimeout
    );
    event ChannelToppedUp(bytes32 indexed channelId, uint256 amount, uint256 deposit);
    event VoucherRedeemed(bytes32 indexed channelId, uint256 cumulativeAmount, uint256 payout);
    event CloseStarted(bytes32 indexed channelId, uint48 closesAt);
    event ChannelFinalized(bytes32 indexed channelId, uint256 paidToProvider, uint256 refundedToRequester);

    error ZeroAmount();
    error InvalidProvider(address provider);
    error InvalidCloseTimeout(uint48 closeTimeout, uint48 min, uint48 max);
    error UnknownChannel(bytes32 channelId);
    error ChannelFinalizedAlready(bytes32 channelId);
    error ChannelClosing(bytes32 channelId, uint48 closesAt);
    error NotRequester(bytes32 channelId, address caller);
    error NotProvider(bytes32 channelId, address caller);
    error VoucherOverspent(bytes32 channelId, uint256 cumulativeAmount, uint256 deposit);
    error VoucherNotNewer(bytes32 channelId, uint256 cumulativeAmount, uint256 paid);
    error InvalidVoucherSignature(bytes32 channelId);
    error CloseNotStarted(bytes32 channelId);
    error CloseTimeoutPending(bytes32 channelId, uint48 closesAt, uint256 now_);

    constructor(IERC20 token_) EIP712("OCN PaymentChannels", "1") {
        token = token_;
    }

    // ---------------------------------------------------------------- requester

    /// @notice Opens a channel to `provider` funded with `deposit` OPEN (needs an allowance).
    function open(address provider, uint256 deposit, uint48 closeTimeout)
        external
        nonReentrant
        returns (bytes32 channelId)
    {
        if (deposit == 0) revert ZeroAmount();
        if (provider == address(0) || provider == msg.sender) revert InvalidProvider(provider);
        if (closeTimeout < MIN_CLOSE_TIMEOUT || closeTimeout > MAX_CLOSE_TIMEOUT) {
            revert InvalidCloseTimeout(closeTimeout, MIN_CLOSE_TIMEOUT, MAX_CLOSE_TIMEOUT);
        }
        channelId = keccak256(abi.encode(block.chainid, address(this), msg.sender, provider, channelCount));
        channelCount += 1;
        _channels[channelId] = Channel({
            requester: msg.sender,
            closeTimeout: closeTimeout,
            closesAt: 0,
            provider: provider,
            finalized: false,
            deposit: SafeCast.toUint128(deposit),
            paid: 0
        });
        emit ChannelOpened(channelId, msg.sender, provider, deposit, closeTimeout);
        token.safeTransferFrom(msg.sender, address(this), deposit);
    }

    /// @notice Adds `amount` to an open channel's deposit. Not allowed once a close started,
    /// so the provider's view of the deposit during the timeout never changes.
    function topUp(bytes32 channelId, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Channel storage channel = _live(channelId);
        if (channel.requester != msg.sender) revert NotRequester(channelId, msg.sender);
        if (channel.closesAt != 0) revert ChannelClosing(channelId, channel.closesAt);
        uint128 deposit = SafeCast.toUint128(uint256(channel.deposit) + amount);
        channel.deposit = deposit;
        emit ChannelToppedUp(channelId, amount, deposit);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Starts the close timeout; afterwards `withdraw` returns the unspent deposit.
    function startClose(bytes32 channelId) external {
        Channel storage channel = _live(channelId);
        if (channel.requester != msg.sender) revert NotRequester(channelId, msg.sender);
        if (channel.closesAt != 0) revert ChannelClosing(channelId, channel.closesAt);
        uint48 closesAt = SafeCast.toUint48(block.timestamp + channel.closeTimeout);
        channel.closesAt = closesAt;
        emit CloseStarted(channelId, closesAt);
    }

    /// @notice After the close timeout: finalizes the channel and refunds what was not paid.
    function withdraw(bytes32 channelId) external nonReentrant {
        Channel storage channel = _live(channelId);
        if (channel.requester != msg.sender) revert NotRequester(channelId, msg.sender);
        uint48 closesAt = channel.closesAt;
        if (closesAt == 0) revert CloseNotStarted(channelId);
        if (block.timestamp < closesAt) revert CloseTimeoutPending(channelId, closesAt, block.timestamp);
        _finalize(channelId, channel);
    }

    // ---------------------------------------------------------------- provider

    /// @notice Pays the provider `cumulativeAmount - paid` against a voucher signed by the
    /// requester. Possible at any time until the channel is finalized, close timeout included.
    function redeem(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature) external nonReentrant {
        Channel storage channel = _live(channelId);
        if (channel.provider != msg.sender) revert NotProvider(channelId, msg.sender);
        _redeem(channelId, channel, cumulativeAmount, signature);
    }

    /// @notice Redeems the final voucher (if it adds anything) and closes the channel at once,
    /// refunding the rest to the requester: the cooperative close, no timeout needed.
    function closeByProvider(bytes32 channelId, uint256 cumulativeAmount, bytes calldata signature)
        external
        nonReentrant
    {
        Channel storage channel = _live(channelId);
        if (channel.provider != msg.sender) revert NotProvider(channelId, msg.sender);
        if (cumulativeAmount != channel.paid || signature.length != 0) {
            _redeem(channelId, channel, cumulativeAmount, signature);
        }
        _finalize(channelId, channel);
    }

    // ---------------------------------------------------------------- views

    function getChannel(bytes32 channelId) external view returns (Channel memory) {
        return _channels[channelId];
    }

    /// @notice The EIP-712 digest a requester signs for a voucher (for off-chain cross-checks).
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount)));
    }

    // ---------------------------------------------------------------- internals

    function _live(bytes32 channelId) private view returns (Channel storage channel) {
        channel = _channels[channelId];
        if (channel.requester == address(0)) revert UnknownChannel(channelId);
        if (channel.finalized) revert ChannelFinalizedAlready(channelId);
    }

    function _redeem(bytes32 channelId, Channel storage channel, uint256 cumulativeAmount, bytes calldata signature)
        private
    {
        uint128 deposit = channel.deposit;
        uint128 paid = channel.paid;
        if (cumulativeAmount > deposit) revert VoucherOverspent(channelId, cumulativeAmount, deposit);
        if (cumulativeAmount <= paid) revert VoucherNotNewer(channelId, cumulativeAmount, paid);
        if (!SignatureChecker.isValidSignatureNow(
                channel.requester, voucherDigest(channelId, cumulativeAmount), signature
            )) {
            revert InvalidVoucherSignature(channelId);
        }
        // bounded by deposit (uint128) above
        channel.paid = uint128(cumulativeAmount);
        uint256 payout = cumulativeAmount - paid;
        emit VoucherRedeemed(channelId, cumulativeAmount, payout);
        token.safeTransfer(channel.provider, payout);
    }

    function _finalize(bytes32 channelId, Channel storage channel) private {
        uint256 paid = channel.paid;
        uint256 refund = uint256(channel.deposit) - paid;
        channel.finalized = true;
        emit ChannelFinalized(channelId, paid, refund);
        if (refund != 0) token.safeTransfer(channel.requester, refund);
    }
}
