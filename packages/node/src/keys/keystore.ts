import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type Address, bytesToHex, type Hex, hexToBytes, isHex } from 'viem'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'
import { decryptSecret, type EncryptedSecret, encryptSecret } from './encryption.js'
import { KeyStoreError } from './errors.js'
import {
  defaultScryptParameters,
  EVM_KEY_FILE,
  KEYS_DIR_NAME,
  type KeyStoreOptions,
  LIBP2P_KEY_FILE,
} from './options.js'

export type KeyType = 'evm-secp256k1' | 'libp2p-ed25519'

/**
 * On-disk layout of one key file (JSON). The public identity (`id`: the EVM address or
 * the peer id) is in clear so `ocn status` can show it without the passphrase; the secret
 * is either hex (`secret`) or encrypted (`encryption`).
 */
export interface KeyFile {
  version: 1
  type: KeyType
  id: string
  encrypted: boolean
  secret?: string
  encryption?: EncryptedSecret
}

export interface NodeKeyPaths {
  dir: string
  evm: string
  libp2p: string
}

export function nodeKeyPaths(dataDir: string): NodeKeyPaths {
  const dir = join(dataDir, KEYS_DIR_NAME)
  return { dir, evm: join(dir, EVM_KEY_FILE), libp2p: join(dir, LIBP2P_KEY_FILE) }
}

export interface InitNodeKeysParameters extends KeyStoreOptions {
  dataDir: string
  /** Encrypts both keys when given (non-empty). */
  passphrase?: string | undefined
  /** Replaces existing keys. Without it, existing keys are never touched. */
  force?: boolean
}

export interface NodeKeyInfo {
  address: Address
  peerId: string
  encrypted: boolean
  paths: NodeKeyPaths
}

export interface NodeKeys {
  /** Signs transactions and EIP-712 bids; its address is the staking address. */
  account: PrivateKeyAccount
  /** The libp2p host identity. */
  privateKey: PrivateKey
  peerId: PeerId
  info: NodeKeyInfo
}

function associatedData(file: Pick<KeyFile, 'version' | 'type' | 'id'>): string {
  return `ocn-key:${file.version}:${file.type}:${file.id}`
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw cause
  }
}

/** Writes via a temporary file and rename, so a crash never leaves half a key file. */
async function writeKeyFile(path: string, content: KeyFile): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`
  try {
    const handle = await open(temporary, 'w', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify(content, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await chmod(temporary, 0o600)
    await rename(temporary, path)
  } catch (cause) {
    await rm(temporary, { force: true })
    throw new KeyStoreError('KEYS_WRITE_FAILED', `cannot write key file ${path}`, {
      cause,
      details: (cause as Error).message,
    })
  }
}

async function sealSecret(
  type: KeyType,
  id: string,
  secret: Uint8Array,
  parameters: InitNodeKeysParameters,
): Promise<KeyFile> {
  const base = { version: 1 as const, type, id }
  if (parameters.passphrase === undefined || parameters.passphrase === '') {
    return { ...base, encrypted: false, secret: bytesToHex(secret) }
  }
  const encryption = await encryptSecret(
    secret,
    parameters.passphrase,
    parameters.scrypt ?? defaultScryptParameters,
    associatedData(base),
  )
  return { ...base, encrypted: true, encryption }
}

/**
 * Creates the node's EVM key and libp2p Ed25519 key in `<dataDir>/keys` (directory 0700,
 * files 0600), optionally encrypted with a passphrase. Refuses to replace existing keys
 * unless `force` is set: losing the EVM key loses the stake bound to it.
 */
export async function initNodeKeys(parameters: InitNodeKeysParameters): Promise<NodeKeyInfo> {
  const paths = nodeKeyPaths(parameters.dataDir)
  if (parameters.force !== true) {
    for (const path of [paths.evm, paths.libp2p]) {
      if (await exists(path)) {
        throw new KeyStoreError('KEYS_EXIST', `keys already exist in ${paths.dir}`, {
          details: 'pass --force to replace them, losing the old keys and any stake bound to them',
        })
      }
    }
  }
  await mkdir(paths.dir, { recursive: true, mode: 0o700 })
  // mkdir's mode is masked by the umask and ignored for an existing directory.
  await chmod(paths.dir, 0o700)

  const evmSecret = generatePrivateKey()
  const account = privateKeyToAccount(evmSecret)
  const libp2pKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(libp2pKey).toString()

  const evmFile = await sealSecret('evm-secp256k1', account.address, hexToBytes(evmSecret), parameters)
  const libp2pFile = await sealSecret('libp2p-ed25519', peerId, privateKeyToProtobuf(libp2pKey), parameters)
  await writeKeyFile(paths.evm, evmFile)
  await writeKeyFile(paths.libp2p, libp2pFile)
  return { address: account.address, peerId, encrypted: evmFile.encrypted, paths }
}

function parseKeyFile(text: string, path: string, type: KeyType): KeyFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new KeyStoreError('KEYS_CORRUPT', `key file ${path} is not valid JSON`)
  }
  const file = parsed as Partial<KeyFile> | null
  const valid =
    file !== null &&
    typeof file === 'object' &&
    file.version === 1 &&
    file.type === type &&
    typeof file.id === 'string' &&
    typeof file.encrypted === 'boolean' &&
    (file.encrypted
      ? typeof file.encryption === 'object' && file.encryption !== null
      : typeof file.secret === 'string')
  if (!valid) throw new KeyStoreError('KEYS_CORRUPT', `key file ${path} is not an OCN ${type} key file`)
  return file as KeyFile
}

async function readKeyFile(path: string, type: KeyType, checkPermissions: boolean): Promise<KeyFile> {
  let text: string
  try {
    if (checkPermissions && process.platform !== 'win32') {
      const mode = (await stat(path)).mode
      // Like ssh: a key others can read is treated as compromised, not silently used.
      if ((mode & 0o077) !== 0) {
        throw new KeyStoreError('KEYS_INSECURE_PERMISSIONS', `key file ${path} is readable by other users`, {
          details: `run chmod 600 ${path} (mode is ${(mode & 0o777).toString(8)})`,
        })
      }
    }
    text = await readFile(path, 'utf8')
  } catch (cause) {
    if (cause instanceof KeyStoreError) throw cause
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeyStoreError('KEYS_NOT_FOUND', `no key file at ${path}`, {
        details: 'run `ocn init` to create the node keys',
      })
    }
    throw new KeyStoreError('KEYS_CORRUPT', `cannot read key file ${path}`, {
      cause,
      details: (cause as Error).message,
    })
  }
  return parseKeyFile(text, path, type)
}

async function openSecret(file: KeyFile, path: string, passphrase: string | undefined): Promise<Uint8Array> {
  if (!file.encrypted) {
    if (!isHex(file.secret)) throw new KeyStoreError('KEYS_CORRUPT', `key file ${path} holds no hex secret`)
    return hexToBytes(file.secret as Hex)
  }
  if (passphrase === undefined || passphrase === '') {
    throw new KeyStoreError(
      'KEYS_PASSPHRASE_REQUIRED',
      `key file ${path} is encrypted and no passphrase was given`,
      {
        details: 'set OCN_PASSPHRASE or pass --passphrase-file <file>',
      },
    )
  }
  return decryptSecret(file.encryption!, passphrase, associatedData(file), path)
}

/** Reads the public identities without decrypting anything. */
export async function readNodeKeyInfo(dataDir: string): Promise<NodeKeyInfo> {
  const paths = nodeKeyPaths(dataDir)
  const evm = await readKeyFile(paths.evm, 'evm-secp256k1', false)
  const libp2p = await readKeyFile(paths.libp2p, 'libp2p-ed25519', false)
  return {
    address: evm.id as Address,
    peerId: libp2p.id,
    encrypted: evm.encrypted || libp2p.encrypted,
    paths,
  }
}

export interface LoadNodeKeysParameters {
  dataDir: string
  passphrase?: string | undefined
}

/** Loads and checks both keys: the viem account and the libp2p private key. */
export async function loadNodeKeys(parameters: LoadNodeKeysParameters): Promise<NodeKeys> {
  const paths = nodeKeyPaths(parameters.dataDir)
  const evmFile = await readKeyFile(paths.evm, 'evm-secp256k1', true)
  const libp2pFile = await readKeyFile(paths.libp2p, 'libp2p-ed25519', true)

  const evmSecret = await openSecret(evmFile, paths.evm, parameters.passphrase)
  let account: PrivateKeyAccount
  try {
    account = privateKeyToAccount(bytesToHex(evmSecret))
  } catch (cause) {
    throw new KeyStoreError('KEYS_CORRUPT', `key file ${paths.evm} holds no valid secp256k1 key`, { cause })
  }
  if (account.address.toLowerCase() !== evmFile.id.toLowerCase()) {
    throw new KeyStoreError(
      'KEYS_CORRUPT',
      `key file ${paths.evm} holds a key for another address than ${evmFile.id}`,
    )
  }

  const libp2pSecret = await openSecret(libp2pFile, paths.libp2p, parameters.passphrase)
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(libp2pSecret)
  } catch (cause) {
    throw new KeyStoreError('KEYS_CORRUPT', `key file ${paths.libp2p} holds no valid libp2p key`, { cause })
  }
  const peerId = peerIdFromPrivateKey(privateKey)
  if (peerId.toString() !== libp2pFile.id) {
    throw new KeyStoreError(
      'KEYS_CORRUPT',
      `key file ${paths.libp2p} holds a key for another peer than ${libp2pFile.id}`,
    )
  }
  return {
    account,
    privateKey,
    peerId,
    info: {
      address: account.address,
      peerId: libp2pFile.id,
      encrypted: evmFile.encrypted || libp2pFile.encrypted,
      paths,
    },
  }
}
