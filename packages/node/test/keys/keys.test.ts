import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { verifyMessage } from 'viem'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  initNodeKeys,
  KeyStoreError,
  loadNodeKeys,
  nodeKeyPaths,
  readNodeKeyInfo,
} from '../../src/keys/index.js'

// Low scrypt cost keeps the suite fast; the format and code path are the same.
const scrypt = { N: 2 ** 10, r: 8, p: 1 }
let dataDir: string

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ocn-keys-'))
})

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true })
})

async function keyError(promise: Promise<unknown>): Promise<KeyStoreError> {
  const error = await promise.then(
    () => undefined,
    (cause: unknown) => cause,
  )
  expect(error).toBeInstanceOf(KeyStoreError)
  return error as KeyStoreError
}

describe('node keys', () => {
  it('creates both keys with owner-only permissions and loads them back', async () => {
    const info = await initNodeKeys({ dataDir })
    const paths = nodeKeyPaths(dataDir)
    expect((await stat(paths.dir)).mode & 0o777).toBe(0o700)
    expect((await stat(paths.evm)).mode & 0o777).toBe(0o600)
    expect((await stat(paths.libp2p)).mode & 0o777).toBe(0o600)
    expect(info.encrypted).toBe(false)

    const keys = await loadNodeKeys({ dataDir })
    expect(keys.account.address).toBe(info.address)
    expect(keys.peerId.toString()).toBe(info.peerId)
    expect(keys.privateKey.type).toBe('Ed25519')
    expect(peerIdFromPrivateKey(keys.privateKey).toString()).toBe(info.peerId)

    const signature = await keys.account.signMessage({ message: 'ocn' })
    expect(await verifyMessage({ address: info.address, message: 'ocn', signature })).toBe(true)
    const libp2pSignature = await keys.privateKey.sign(new TextEncoder().encode('ocn'))
    expect(await keys.privateKey.publicKey.verify(new TextEncoder().encode('ocn'), libp2pSignature)).toBe(
      true,
    )
  })

  it('never replaces existing keys without force', async () => {
    const first = await initNodeKeys({ dataDir })
    const error = await keyError(initNodeKeys({ dataDir }))
    expect(error.code).toBe('KEYS_EXIST')
    expect((await loadNodeKeys({ dataDir })).account.address).toBe(first.address)

    const second = await initNodeKeys({ dataDir, force: true })
    expect(second.address).not.toBe(first.address)
    expect((await loadNodeKeys({ dataDir })).account.address).toBe(second.address)
  })

  it('encrypts with a passphrase and decrypts only with the right one', async () => {
    const info = await initNodeKeys({ dataDir, passphrase: 'correct horse', scrypt })
    expect(info.encrypted).toBe(true)
    const raw = await readFile(nodeKeyPaths(dataDir).evm, 'utf8')
    expect(raw).not.toMatch(/"secret"/)
    expect(JSON.parse(raw).encryption.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 10 })

    expect((await keyError(loadNodeKeys({ dataDir }))).code).toBe('KEYS_PASSPHRASE_REQUIRED')
    const wrong = await keyError(loadNodeKeys({ dataDir, passphrase: 'battery staple' }))
    expect(wrong.code).toBe('KEYS_WRONG_PASSPHRASE')
    expect(wrong.shortMessage).toContain('wrong passphrase')

    const keys = await loadNodeKeys({ dataDir, passphrase: 'correct horse' })
    expect(keys.account.address).toBe(info.address)
    expect(keys.peerId.toString()).toBe(info.peerId)
    expect(await readNodeKeyInfo(dataDir)).toMatchObject({
      address: info.address,
      peerId: info.peerId,
      encrypted: true,
    })
  })

  it('detects a public identity edited in an encrypted file', async () => {
    await initNodeKeys({ dataDir, passphrase: 'pw', scrypt })
    const file = nodeKeyPaths(dataDir).evm
    const content = JSON.parse(await readFile(file, 'utf8'))
    content.id = '0x000000000000000000000000000000000000dEaD'
    await writeFile(file, JSON.stringify(content), { mode: 0o600 })
    expect((await keyError(loadNodeKeys({ dataDir, passphrase: 'pw' }))).code).toBe('KEYS_WRONG_PASSPHRASE')
  })

  it('rejects a plaintext key that does not match its address', async () => {
    await initNodeKeys({ dataDir })
    const file = nodeKeyPaths(dataDir).evm
    const content = JSON.parse(await readFile(file, 'utf8'))
    content.id = '0x000000000000000000000000000000000000dEaD'
    await writeFile(file, JSON.stringify(content), { mode: 0o600 })
    expect((await keyError(loadNodeKeys({ dataDir }))).code).toBe('KEYS_CORRUPT')
  })

  it('refuses key files other users can read', async () => {
    await initNodeKeys({ dataDir })
    await chmod(nodeKeyPaths(dataDir).libp2p, 0o644)
    const error = await keyError(loadNodeKeys({ dataDir }))
    expect(error.code).toBe('KEYS_INSECURE_PERMISSIONS')
    expect(error.details).toContain('chmod 600')
  })

  it('says to run ocn init when there are no keys', async () => {
    const error = await keyError(loadNodeKeys({ dataDir }))
    expect(error.code).toBe('KEYS_NOT_FOUND')
    expect(error.details).toContain('ocn init')
  })

  it('rejects a file that is not a key file', async () => {
    await initNodeKeys({ dataDir })
    await writeFile(nodeKeyPaths(dataDir).libp2p, '{"hello":1}', { mode: 0o600 })
    expect((await keyError(loadNodeKeys({ dataDir }))).code).toBe('KEYS_CORRUPT')
  })
})
