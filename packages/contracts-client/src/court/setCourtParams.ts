import type { Address } from 'viem'
import type { CourtParameters } from '../deploy.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { callCourt } from './courtCall.js'

export interface SetCourtParamsParameters extends WriteOptions {
  disputeCourt: Address
  params: CourtParameters
}

/** Sets every court parameter (PARAMETERS role; the timelock under governance). Applies to new disputes. */
export async function setCourtParams(
  client: ProtocolWalletClient,
  { disputeCourt, params, gas }: SetCourtParamsParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'setParams', [params], gas)
}
