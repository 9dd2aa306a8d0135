// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title IDisputeCourt: what other contracts may read of the DisputeCourt
/// @notice A narrow view, implemented by DisputeCourt (which inherits this interface, so the
/// compiler checks the signature). Readers such as the ModelMonitor depend on this and not on the
/// court's storage layout or its `Dispute` struct, which can change without breaking them.
interface IDisputeCourt {
    /// @notice The job a dispute is about, whether it is Closed (its final ruling applied by
    /// `execute`, or it expired unrevealed), and its ruling: 0 none, 1 guilty, 2 not guilty,
    /// 3 not proven (DisputeCourt.RULING_*). An unknown id reads as (0, false, 0).
    function disputeOutcome(uint256 disputeId) external view returns (bytes32 jobId, bool closed, uint8 ruling);
}
