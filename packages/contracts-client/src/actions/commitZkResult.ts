import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

/**
 * A Groth16 proof as the EVM verifier takes it: affine points, each G2 coordinate's two Fp2
 * limbs in precompile order (what `toGroth16CallArguments` in @ocn/prover returns).
 */
export interface Groth16Proof {
  a: readonly [bigint, bigint]
  b: readonly [readonly [bigint, bigint], readonly [bigint, bigint]]
  c: readonly [bigint, bigint]
}

export interface CommitZkResultParameters extends WriteOptions {
  jobMarket: Address
  jobId: Hex
  proof: Groth16Proof
  /** the proof's second public signal; must equal the offer's `inputHash` read as a number */
  inputCommitment: bigint
  /** the proof's third public signal; stored as the job's result */
  outputCommitment: bigint
}

export type CommitZkResultReturnType = WriteResult

/**
 * Proves a zk-mode job's result and settles it in the same transaction (provider only, before
 * the deadline): a proof that does not verify reverts with `InvalidZkProof`.
 */
export async function commitZkResult(
  client: ProtocolWalletClient,
  { jobMarket, jobId, proof, inputCommitment, outputCommitment, gas, onSent }: CommitZkResultParameters,
): Promise<CommitZkResultReturnType> {
  const { request } = await simulate('commitZkResult', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'commitZkResult',
      args: [
        jobId,
        [proof.a[0], proof.a[1]],
        [
          [proof.b[0][0], proof.b[0][1]],
          [proof.b[1][0], proof.b[1][1]],
        ],
        [proof.c[0], proof.c[1]],
        inputCommitment,
        outputCommitment,
      ],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'commitZkResult', onSent)
}
