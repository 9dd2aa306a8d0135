// Who holds which power once the protocol is under governance: the whole AccessManager role map
// is rebuilt from its events, the deployer holds nothing (admin included), the COURT role is the
// court contract's alone, and no restricted court function decides a dispute. Court parameters
// are bounded (bonds fit uint96 even after the appeal doubling).
import { type Address, parseAbiItem, toFunctionSelector } from 'viem'
import { getLogs } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Deployment,
  DeploymentError,
  type DevChain,
  defaultCourtParameters,
  deployGovernance,
  deployProtocol,
  type GovernanceDeployment,
  ProtocolRole,
  parseDeployment,
  setCourtParams,
  startDevChain,
} from '../src/index.js'
import { expectRevert, type Wallet, walletFor } from './helpers.js'

let chain: DevChain
let admin: Wallet
let deployment: Deployment
let governance: GovernanceDeployment

beforeAll(async () => {
  chain = await startDevChain()
  admin = walletFor(chain, chain.accounts[0]!)
  deployment = await deployProtocol(admin)
  governance = await deployGovernance(admin, { deployment })
}, 120_000)

afterAll(async () => {
  await chain?.stop()
})

/** role id -> members, replayed from every RoleGranted / RoleRevoked since the deployment. */
async function roleMap(): Promise<Map<bigint, Set<Address>>> {
  const address = deployment.addresses.accessManager
  const fromBlock = deployment.deployBlock
  const granted = await getLogs(admin, {
    address,
    fromBlock,
    event: parseAbiItem(
      'event RoleGranted(uint64 indexed roleId, address indexed account, uint32 delay, uint48 since, bool newMember)',
    ),
  })
  const revoked = await getLogs(admin, {
    address,
    fromBlock,
    event: parseAbiItem('event RoleRevoked(uint64 indexed roleId, address indexed account)'),
  })
  const events = [...granted.map((l) => ({ l, add: true })), ...revoked.map((l) => ({ l, add: false }))].sort(
    (a, b) =>
      a.l.blockNumber === b.l.blockNumber
        ? a.l.logIndex - b.l.logIndex
        : a.l.blockNumber < b.l.blockNumber
          ? -1
          : 1,
  )
  const map = new Map<bigint, Set<Address>>()
  for (const { l, add } of events) {
    const role = l.args.roleId!
    const account = l.args.account!.toLowerCase() as Address
    const members = map.get(role) ?? new Set<Address>()
    if (add) members.add(account)
    else members.delete(account)
    map.set(role, members)
  }
  return map
}

describe('court in the deployment file', () => {
  it('round-trips the court address, role and parameters; files from before the court still parse', () => {
    const json = JSON.stringify(deployment, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))
    const parsed = parseDeployment(json)
    expect(parsed.addresses.disputeCourt).toBe(deployment.addresses.disputeCourt)
    expect(parsed.roles.court).toBe(ProtocolRole.court)
    expect(parsed.courtParams).toEqual(defaultCourtParameters)
    const older = JSON.parse(json)
    delete older.addresses.disputeCourt
    delete older.roles.court
    delete older.courtParams
    const parsedOlder = parseDeployment(JSON.stringify(older))
    expect(parsedOlder.addresses.disputeCourt).toBeUndefined()
    expect(parsedOlder.roles.court).toBeUndefined()
    expect(parsedOlder.courtParams).toBeUndefined()
    older.courtParams = { ...JSON.parse(json).courtParams, jurySize: undefined }
    expect(() => parseDeployment(JSON.stringify(older))).toThrow('courtParams.jurySize missing')
  })
})

describe('court under governance', () => {
  it('leaves the deployer no role at all, and the COURT role to the court contract alone', async () => {
    const map = await roleMap()
    const deployer = admin.account.address.toLowerCase() as Address
    for (const [role, members] of map)
      expect(members.has(deployer), `deployer holds role ${role}`).toBe(false)
    const lower = (a: Address) => a.toLowerCase() as Address
    expect([...(map.get(ProtocolRole.court) ?? [])]).toEqual([lower(deployment.addresses.disputeCourt!)])
    expect([...(map.get(ProtocolRole.admin) ?? [])]).toEqual([lower(governance.timelock)])
    // only the ModelMonitor suspends models; the weights root reaches the pool through the
    // DatanetRegistry, with the timelock's role left as the emergency override
    expect([...(map.get(ProtocolRole.modelMonitor) ?? [])]).toEqual([
      lower(deployment.addresses.modelMonitor!),
    ])
    expect(new Set(map.get(ProtocolRole.attribution))).toEqual(
      new Set([lower(deployment.addresses.datanetRegistry!), lower(governance.timelock)]),
    )
    // no ARBITER at all: role 1 (the interim single-key arbiter) is held by nobody
    expect(map.get(1n)?.size ?? 0).toBe(0)
  })

  it('restricts only the court parameter setter: no role can decide a dispute', async () => {
    const logs = await getLogs(admin, {
      address: deployment.addresses.accessManager,
      fromBlock: deployment.deployBlock,
      event: parseAbiItem(
        'event TargetFunctionRoleUpdated(address indexed target, bytes4 selector, uint64 indexed roleId)',
      ),
      args: { target: deployment.addresses.disputeCourt! },
    })
    const setParams = toFunctionSelector(
      'setParams((uint96,uint96,uint16,uint16,uint8,uint8,uint8,uint96,uint96,uint32,uint32,uint32,uint32,uint96))',
    )
    expect(logs.map((l) => [l.args.selector, l.args.roleId])).toEqual([[setParams, ProtocolRole.parameters]])
    await expectRevert(
      setCourtParams(admin, {
        disputeCourt: deployment.addresses.disputeCourt!,
        params: defaultCourtParameters,
      }),
      'AccessManagedUnauthorized',
    )
  })

  it('refuses out-of-range parameters, a bond whose appeal doubling leaves uint96 included', async () => {
    const other = await startDevChain()
    try {
      const w = walletFor(other, other.accounts[0]!)
      await expect(
        deployProtocol(w, { court: { challengeBond: 2n ** 96n - 1n, maxRounds: 2 } }),
      ).rejects.toBeInstanceOf(DeploymentError)
      const fresh = await deployProtocol(w)
      const court = fresh.addresses.disputeCourt!
      for (const bad of [
        { jurySize: 2 },
        { jurySize: 17 },
        { maxRounds: 4 },
        { drawDelay: 0 },
        { juryShareBps: 10_001 },
        { jurorPenalty: defaultCourtParameters.jurorMinStake + 1n },
        { appealPeriod: 0 },
        { challengeBond: 0n },
        // a free concession makes challenge-and-concede griefing cost gas only
        { concessionFee: 0n },
        { concessionFee: defaultCourtParameters.challengeBond + 1n },
      ]) {
        const err = await expectRevert(
          setCourtParams(w, { disputeCourt: court, params: { ...defaultCourtParameters, ...bad } }),
          'InvalidParameter',
        )
        expect(err.args.length).toBe(1)
      }
      // and 2^96 itself does not even encode as a bond
      await expect(
        setCourtParams(w, {
          disputeCourt: court,
          params: { ...defaultCourtParameters, challengeBond: 2n ** 96n },
        }),
      ).rejects.toThrow()
    } finally {
      await other.stop()
    }
  }, 120_000)
})
