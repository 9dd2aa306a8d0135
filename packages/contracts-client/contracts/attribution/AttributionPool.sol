// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";

/**
 * @title AttributionPool
 * @notice Routes a share of inference fees to the data contributors of a model, split by the
 * committed Proof of Attribution weights.
 *
 * Flow, per model id:
 *  1. anyone (the JobMarket, a payer) `deposit`s OPEN for the model; it accrues as `pending`;
 *  2. the attribution role (council/governance, through the AccessManager) `setWeights` from a
 *     committed attribution result: the Merkle root over leaves
 *     merkleLeaf(i, keccak256(abi.encode(address, uint256 weightBps))) with weights summing to
 *     exactly WEIGHT_TOTAL, plus the hash of the result for audit;
 *  3. anyone `settle`s the pending balance into a new round, frozen under the current root (so
 *     replacing the weights later never changes what an earlier round owes);
 *  4. each contributor (or anyone on its behalf: the money always goes to the leaf's address)
 *     `claim`s its share of a round once, with a Merkle proof.
 *
 * Rounding: a claim pays floor(amount * weight / WEIGHT_TOTAL), except the claim that brings the
 * round's claimed weight to WEIGHT_TOTAL, which pays everything still unclaimed in the round.
 * So a round's claims sum to its amount exactly, to the wei, whatever the claim order; the dust
 * (at most one wei per contributor) goes to whoever claims last.
 */
contract AttributionPool is AccessManaged {
    using SafeERC20 for IERC20;
    using BitMaps for BitMaps.BitMap;

    uint256 public constant WEIGHT_TOTAL = 10_000;

    struct Round {
        bytes32 weightsRoot;
        uint256 amount;
        uint256 claimedAmount;
        uint256 claimedWeight;
    }

    IERC20 public immutable token;

    mapping(bytes32 modelId => bytes32) public weightsRoot;
    mapping(bytes32 modelId => bytes32) public attributionResult;
    mapping(bytes32 modelId => uint256) public pending;
    mapping(bytes32 modelId => uint256) public roundCount;
    mapping(bytes32 modelId => mapping(uint256 round => Round)) private _rounds;
    mapping(bytes32 modelId => mapping(uint256 round => BitMaps.BitMap)) private _claimed;

    event Deposited(bytes32 indexed modelId, address indexed from, uint256 amount);
    event WeightsSet(bytes32 indexed modelId, bytes32 weightsRoot, bytes32 attributionResult);
    event RoundSettled(bytes32 indexed modelId, uint256 indexed round, uint256 amount, bytes32 weightsRoot);
    event Claimed(
        bytes32 indexed modelId, uint256 indexed round, uint256 index, address indexed account, uint256 amount
    );

    error ZeroAmount();
    error ZeroRoot();
    error NoWeights(bytes32 modelId);
    error NothingToSettle(bytes32 modelId);
    error UnknownRound(bytes32 modelId, uint256 round);
    error AlreadyClaimed(bytes32 modelId, uint256 round, uint256 index);
    error InvalidProof();
    error WeightOverflow(uint256 claimedWeight, uint256 weight);

    constructor(address authority, IERC20 token_) AccessManaged(authority) {
        token = token_;
    }

    /// @notice Adds `amount` OPEN (pulled from the caller; needs an allowance) to `modelId`'s pending fees.
    function deposit(bytes32 modelId, uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        pending[modelId] += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(modelId, msg.sender, amount);
    }

    /// @notice Commits the weights of `modelId` (restricted: the attribution role of the AccessManager).
    function setWeights(bytes32 modelId, bytes32 root, bytes32 resultHash) external restricted {
        if (root == bytes32(0)) revert ZeroRoot();
        weightsRoot[modelId] = root;
        attributionResult[modelId] = resultHash;
        emit WeightsSet(modelId, root, resultHash);
    }

    /// @notice Freezes `modelId`'s pending fees into a claimable round under the current weights.
    function settle(bytes32 modelId) external returns (uint256 round) {
        bytes32 root = weightsRoot[modelId];
        if (root == bytes32(0)) revert NoWeights(modelId);
        uint256 amount = pending[modelId];
        if (amount == 0) revert NothingToSettle(modelId);
        pending[modelId] = 0;
        round = roundCount[modelId]++;
        _rounds[modelId][round] = Round({weightsRoot: root, amount: amount, claimedAmount: 0, claimedWeight: 0});
        emit RoundSettled(modelId, round, amount, root);
    }

    /// @notice Pays leaf `index` (`account`, `weight`) its share of `round`; reverts on a second claim.
    function claim(
        bytes32 modelId,
        uint256 round,
        uint256 index,
        address account,
        uint256 weight,
        bytes32[] calldata proof
    ) external returns (uint256 paid) {
        if (round >= roundCount[modelId]) revert UnknownRound(modelId, round);
        Round storage r = _rounds[modelId][round];
        BitMaps.BitMap storage claimed = _claimed[modelId][round];
        if (claimed.get(index)) revert AlreadyClaimed(modelId, round, index);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, keccak256(abi.encode(account, weight))))));
        if (!MerkleProof.verifyCalldata(proof, r.weightsRoot, leaf)) revert InvalidProof();
        uint256 claimedWeight = r.claimedWeight + weight;
        if (claimedWeight > WEIGHT_TOTAL) revert WeightOverflow(r.claimedWeight, weight);
        claimed.set(index);
        paid = claimedWeight == WEIGHT_TOTAL ? r.amount - r.claimedAmount : (r.amount * weight) / WEIGHT_TOTAL;
        r.claimedWeight = claimedWeight;
        r.claimedAmount += paid;
        if (paid > 0) token.safeTransfer(account, paid);
        emit Claimed(modelId, round, index, account, paid);
    }

    /// @notice Whether `modelId` has weights, so deposits for it can be settled into rounds
    /// (the JobMarket routes a share to a model only then).
    function hasWeights(bytes32 modelId) external view returns (bool) {
        return weightsRoot[modelId] != bytes32(0);
    }

    function getRound(bytes32 modelId, uint256 round) external view returns (Round memory) {
        return _rounds[modelId][round];
    }

    function isClaimed(bytes32 modelId, uint256 round, uint256 index) external view returns (bool) {
        return _claimed[modelId][round].get(index);
    }
}
