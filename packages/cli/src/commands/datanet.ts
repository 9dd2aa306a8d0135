/**
 * `ocn datanet create|contribute|curate|status|claim`: datanets on chain (the DatanetRegistry)
 * from the node account. Creating burns the governed amount of OPEN; contributing registers a
 * data file by its content hash and locks the governed stake; claiming collects the account's
 * attribution rewards from the AttributionPool and its stake once unlocked.
 */
import { readFile } from 'node:fs/promises'
import {
  acceptContribution,
  approveToken,
  type ClaimContributorRewardsResult,
  claimContributorRewards,
  contribute,
  createDatanet,
  datanetRegistryAbi,
  getContribution,
  getDatanet,
  rejectContribution,
} from '@ocn/contracts-client'
import { contentHashOf } from '@ocn/protocol'
import { type Address, type Hex, isAddress, keccak256, stringToHex } from 'viem'
import { readContract } from 'viem/actions'
import { type Command, type CommandContext, stringFlag } from '../command.js'
import { passphraseFlag } from './account.js'
import { type ChainAccess, ChainCommandError, formatOpen, toChainCommandError } from './chain-access.js'
import { openDeployedContract } from './contract-access.js'

function openRegistry(context: CommandContext, sign: boolean) {
  return openDeployedContract(context, sign, 'datanetRegistry', 'DatanetRegistry')
}

function parseId(text: string | undefined, what: string): bigint {
  if (text === undefined || !/^\d+$/.test(text)) {
    throw new ChainCommandError(
      'CHAIN_INVALID_ARGUMENT',
      `${what} must be a whole number (got "${text ?? ''}")`,
    )
  }
  return BigInt(text)
}

/** Approves the registry for `amount` and runs `write`, mapping reverts onto user errors. */
async function withAllowance<T>(
  { access, registry }: { access: ChainAccess; registry: Address },
  amount: bigint,
  write: () => Promise<T>,
): Promise<T> {
  try {
    if (amount > 0n)
      await approveToken(access.client, {
        token: access.deployment.addresses.token,
        spender: registry,
        amount,
      })
    return await write()
  } catch (cause) {
    throw toChainCommandError(cause, access)
  }
}

async function registryParams(access: ChainAccess, registry: Address) {
  return readContract(access.client, { address: registry, abi: datanetRegistryAbi, functionName: 'params' })
}

export const datanetCreateCommand: Command = {
  path: ['datanet', 'create'],
  summary: 'create a datanet on chain, burning the governed creation amount of OPEN',
  usage: 'ocn datanet create [--curated] [--min-reputation <n>] [--describe <text>] [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {
    ...passphraseFlag,
    curated: { type: 'boolean', description: 'contributions wait for a curator (default: open)' },
    'min-reputation': {
      type: 'string',
      value: '<n>',
      description: 'reputation a contributor needs (curated only)',
    },
    describe: { type: 'string', value: '<text>', description: 'description; its keccak256 is recorded' },
  },
  async run(context) {
    const r = await openRegistry(context, true)
    const curated = context.flags.curated === true
    const minReputation = parseId(stringFlag(context.flags, 'min-reputation') ?? '0', '--min-reputation')
    const metadataHash = keccak256(stringToHex(stringFlag(context.flags, 'describe') ?? ''))
    const { creationBurn } = await registryParams(r.access, r.registry)
    const created = await withAllowance(r, creationBurn, () =>
      createDatanet(r.access.client, { datanetRegistry: r.registry, curated, minReputation, metadataHash }),
    )
    const id = created.datanetId.toString()
    return {
      json: { datanetId: id, curated, burned: creationBurn.toString(), transaction: created.hash },
      text: `Created ${curated ? 'curated' : 'open'} datanet ${id}, burning ${formatOpen(creationBurn)} (transaction ${created.hash})`,
    }
  },
}

export const datanetContributeCommand: Command = {
  path: ['datanet', 'contribute'],
  summary: 'register a data file in a datanet by its content hash, locking the governed stake',
  usage: 'ocn datanet contribute <datanetId> <dataFile> --rows <n> [config flags]',
  configFlags: true,
  maxPositionals: 2,
  flags: { ...passphraseFlag, rows: { type: 'string', value: '<n>', description: 'rows the data adds' } },
  async run(context) {
    const datanetId = parseId(context.positionals[0], 'the datanet id')
    const file = context.positionals[1]
    if (file === undefined)
      throw new ChainCommandError('CHAIN_INVALID_ARGUMENT', 'name the data file to contribute')
    const rows = parseId(stringFlag(context.flags, 'rows'), '--rows')
    const dataHash = contentHashOf(await readFile(file))
    const r = await openRegistry(context, true)
    const { contributionStake } = await registryParams(r.access, r.registry)
    const done = await withAllowance(r, contributionStake, () =>
      contribute(r.access.client, { datanetRegistry: r.registry, datanetId, dataHash, rows }),
    )
    const c = await getContribution(r.access.client, {
      datanetRegistry: r.registry,
      datanetId,
      index: done.index,
    })
    return {
      json: {
        datanetId: datanetId.toString(),
        index: done.index.toString(),
        dataHash,
        status: c.status,
        stake: c.stake.toString(),
        transaction: done.hash,
      },
      text: `Contribution ${done.index} (${dataHash}) is ${c.status}; ${formatOpen(c.stake)} staked (transaction ${done.hash})`,
    }
  },
}

export const datanetCurateCommand: Command = {
  path: ['datanet', 'curate'],
  summary: 'accept or reject a pending contribution (curators and the creator)',
  usage: 'ocn datanet curate <datanetId> <index> accept|reject [config flags]',
  configFlags: true,
  maxPositionals: 3,
  flags: { ...passphraseFlag },
  async run(context) {
    const datanetId = parseId(context.positionals[0], 'the datanet id')
    const index = parseId(context.positionals[1], 'the contribution index')
    const verdict = context.positionals[2]
    if (verdict !== 'accept' && verdict !== 'reject') {
      throw new ChainCommandError('CHAIN_INVALID_ARGUMENT', `say accept or reject (got "${verdict ?? ''}")`)
    }
    const r = await openRegistry(context, true)
    const curate = verdict === 'accept' ? acceptContribution : rejectContribution
    const { hash } = await withAllowance(r, 0n, () =>
      curate(r.access.client, { datanetRegistry: r.registry, datanetId, index }),
    )
    return {
      json: { datanetId: datanetId.toString(), index: index.toString(), verdict, transaction: hash },
      text: `Contribution ${index} of datanet ${datanetId}: ${verdict}ed (transaction ${hash})`,
    }
  },
}

export const datanetStatusCommand: Command = {
  path: ['datanet', 'status'],
  summary: "a datanet's record and contributions",
  usage: 'ocn datanet status <datanetId> [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {},
  async run(context) {
    const datanetId = parseId(context.positionals[0], 'the datanet id')
    const r = await openRegistry(context, false)
    const d = await getDatanet(r.access.client, { datanetRegistry: r.registry, datanetId }).catch((cause) => {
      throw toChainCommandError(cause, r.access)
    })
    if (d === undefined) throw new ChainCommandError('CHAIN_INVALID_ARGUMENT', `no datanet ${datanetId}`)
    const contributions = []
    // bounded: the datanet's own count, read in one pass
    for (let i = 0n; i < BigInt(d.contributionCount); i++) {
      const c = await getContribution(r.access.client, { datanetRegistry: r.registry, datanetId, index: i })
      contributions.push({
        index: i.toString(),
        contributor: c.contributor,
        status: c.status,
        rows: c.rows.toString(),
        stake: c.stake.toString(),
        dataHash: c.dataHash as Hex,
      })
    }
    return {
      json: {
        datanetId: datanetId.toString(),
        creator: d.creator,
        curated: d.curated,
        accepted: d.acceptedCount,
        contributions,
      },
      text: [
        `Datanet ${datanetId} (${d.curated ? 'curated' : 'open'}) by ${d.creator}: ${d.acceptedCount} accepted of ${d.contributionCount}`,
        ...contributions.map((c) => `  ${c.index} ${c.contributor} ${c.status} ${c.rows} rows ${c.dataHash}`),
      ].join('\n'),
    }
  },
}

function describeStake(stake: ClaimContributorRewardsResult['stake']): string {
  switch (stake.state) {
    case 'none':
      return 'no contribution in this datanet'
    case 'withdrawn':
      return `stake of ${formatOpen(stake.amount)} withdrawn (transaction ${stake.transaction})`
    case 'locked':
      return `stake of ${formatOpen(stake.amount)} locked until ${new Date(stake.until * 1000).toISOString()} (run claim again then)`
    case 'not-contributor':
      return 'stake left for the contributor itself to withdraw'
    case 'gone':
      return `no stake to withdraw (contribution ${stake.index} is ${stake.status})`
  }
}

export const datanetClaimCommand: Command = {
  path: ['datanet', 'claim'],
  summary: "claim the account's attribution rewards from a datanet's models and its stake once unlocked",
  usage: 'ocn datanet claim <datanetId> [--for <address>] [config flags]',
  configFlags: true,
  maxPositionals: 1,
  flags: {
    ...passphraseFlag,
    for: {
      type: 'string',
      value: '<address>',
      description: 'claim for this contributor (paid to it; its stake stays for it to withdraw)',
    },
  },
  async run(context) {
    const datanetId = parseId(context.positionals[0], 'the datanet id')
    const forAddress = stringFlag(context.flags, 'for')
    if (forAddress !== undefined && !isAddress(forAddress)) {
      throw new ChainCommandError('CHAIN_INVALID_ARGUMENT', `--for must be an address (got "${forAddress}")`)
    }
    const r = await openRegistry(context, true)
    const { attributionPool } = r.access.deployment.addresses
    if (attributionPool === undefined) {
      throw new ChainCommandError('CHAIN_DEPLOYMENT_INVALID', 'the deployment has no AttributionPool', {
        details: 'redeploy with a current @ocn/contracts-client (deployProtocol deploys it)',
      })
    }
    const done = await claimContributorRewards(r.access.client, {
      datanetRegistry: r.registry,
      attributionPool,
      datanetId,
      fromBlock: r.access.deployment.deployBlock,
      ...(forAddress === undefined ? {} : { contributor: forAddress }),
    }).catch((cause) => {
      throw toChainCommandError(cause, r.access)
    })
    const { stake } = done
    return {
      json: {
        datanetId: datanetId.toString(),
        contributor: done.contributor,
        paid: done.paid.toString(),
        claims: done.claims.map((c) => ({ ...c, round: c.round.toString(), paid: c.paid.toString() })),
        stake: {
          ...stake,
          ...('index' in stake ? { index: stake.index.toString() } : {}),
          ...('amount' in stake ? { amount: stake.amount.toString() } : {}),
        },
      },
      text: [
        `Claimed ${formatOpen(done.paid)} for ${done.contributor} in ${done.claims.length} round(s) of datanet ${datanetId}`,
        ...done.claims.map(
          (c) => `  model ${c.modelHash} round ${c.round}: ${formatOpen(c.paid)} (${c.weight} bp)`,
        ),
        describeStake(stake),
      ].join('\n'),
    }
  },
}

export const datanetCommands = [
  datanetCreateCommand,
  datanetContributeCommand,
  datanetCurateCommand,
  datanetStatusCommand,
  datanetClaimCommand,
]
