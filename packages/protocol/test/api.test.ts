/** The API wire module's validators: what the client and the node accept from each other. */
import { describe, expect, it } from 'vitest'
import { balancesFromJson, isApiJobId, isDecimalString, isJobState, isResultFileName } from '../src/api.js'

describe('API wire validators', () => {
  it('accepts job ids, file names and states the node gives, and nothing that leaves a path', () => {
    expect(isApiJobId(`0x${'ab'.repeat(32)}`)).toBe(true)
    expect(isApiJobId('../etc')).toBe(false)
    expect(isApiJobId('a'.repeat(131))).toBe(false)
    expect(isResultFileName('outputs.safetensors')).toBe(true)
    expect(isResultFileName('.hidden')).toBe(false)
    expect(isResultFileName('a/b')).toBe(false)
    expect(isJobState('finalized')).toBe(true)
    expect(isJobState('done')).toBe(false)
  })

  it('reads balances to the wei and names the first field that is not an amount', () => {
    const max = (2n ** 256n - 1n).toString()
    expect(
      balancesFromJson({ address: '0xab', native: max, token: '1', staked: '0', locked: '0', escrowed: '7' }),
    ).toEqual({ address: '0xab', native: 2n ** 256n - 1n, token: 1n, staked: 0n, locked: 0n, escrowed: 7n })
    expect(
      balancesFromJson({ address: '0xab', native: '1', token: '1', staked: '1', locked: '0' }),
    ).not.toHaveProperty('escrowed')
    expect(balancesFromJson({ address: '0xab', native: '1', token: '-1', staked: '1', locked: '0' })).toEqual(
      {
        invalidField: 'token',
      },
    )
    expect(balancesFromJson({ native: '1' })).toEqual({ invalidField: 'address' })
    const leaving = { address: '0xab', native: '1', token: '1', staked: '1', locked: '0', unbonding: '5' }
    expect(balancesFromJson({ ...leaving, unbondingReadyAt: '1900000000' })).toMatchObject({
      unbonding: 5n,
      unbondingReadyAt: 1_900_000_000n,
    })
    expect(balancesFromJson({ ...leaving, unbonding: 5 })).toEqual({ invalidField: 'unbonding' })
    // the prepaid market balance and the payout choice, when the node reads them
    expect(balancesFromJson({ ...leaving, market: max, payoutToBalance: true })).toMatchObject({
      market: 2n ** 256n - 1n,
      payoutToBalance: true,
    })
    expect(balancesFromJson({ ...leaving, market: '3', payoutToBalance: 'yes' })).toEqual({
      invalidField: 'payoutToBalance',
    })
    expect(balancesFromJson({ ...leaving, market: 3 })).toEqual({ invalidField: 'market' })
    expect(isDecimalString('01')).toBe(false)
    expect(isDecimalString(1)).toBe(false)
  })
})
