import { randomBytes } from 'node:crypto'
import { type Hex, recoverAddress, recoverTypedDataAddress, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount, sign } from 'viem/accounts'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  recoverDigestSigner,
  recoverVoucherSigner,
  recoveryImplementation,
  recoveryReady,
  signVoucher,
  verifyVoucher,
  voucherTypedData,
} from '../src/index.js'

/** secp256k1's group order n */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

const word = (value: bigint): string => value.toString(16).padStart(64, '0')

/** viem's answer or its error message: what the fast path must reproduce */
async function viemSays(digest: Hex, signature: Hex): Promise<string> {
  return recoverAddress({ hash: digest, signature }).catch((e: Error) => `error: ${e.message}`)
}

async function oursSays(digest: Hex, signature: Hex): Promise<string> {
  return recoverDigestSigner(digest, signature).catch((e: Error) => `error: ${e.message}`)
}

/** a signature's r, s and v as parts, and back */
function parts(signature: Hex): { r: bigint; s: bigint; v: number } {
  return {
    r: BigInt(`0x${signature.slice(2, 66)}`),
    s: BigInt(`0x${signature.slice(66, 130)}`),
    v: Number.parseInt(signature.slice(130), 16),
  }
}
function join(r: bigint, s: bigint, v: number): Hex {
  return `0x${word(r)}${word(s)}${v.toString(16).padStart(2, '0')}`
}

beforeAll(async () => {
  await recoveryReady()
})

describe('recoverDigestSigner (WebAssembly libsecp256k1, viem where it must decide)', () => {
  it('runs on the WebAssembly build here', () => {
    expect(recoveryImplementation()).toBe('wasm')
  })

  it('recovers what viem recovers for 64 random keys and digests, v as 27/28 and as 0/1', async () => {
    for (let i = 0; i < 64; i++) {
      const privateKey = generatePrivateKey()
      const digest = toHex(randomBytes(32))
      const signature = await sign({ hash: digest, privateKey, to: 'hex' })
      const address = privateKeyToAccount(privateKey).address
      expect(await recoverDigestSigner(digest, signature)).toBe(address)
      const { r, s, v } = parts(signature)
      expect(await recoverDigestSigner(digest, join(r, s, v - 27))).toBe(address)
    }
  })

  it('recovers high-s signatures as viem does (recovery has no low-s rule), to the same key', async () => {
    for (let i = 0; i < 16; i++) {
      const privateKey = generatePrivateKey()
      const digest = toHex(randomBytes(32))
      const { r, s, v } = parts(await sign({ hash: digest, privateKey, to: 'hex' }))
      // (r, n - s) with the other recovery bit is the same signature's high-s twin
      const high = join(r, N - s, v === 27 ? 28 : 27)
      expect(await oursSays(digest, high)).toBe(await viemSays(digest, high))
      expect(await oursSays(digest, high)).toBe(privateKeyToAccount(privateKey).address)
    }
  })

  it('answers malformed signatures exactly as viem does (same address or same error)', async () => {
    const privateKey = generatePrivateKey()
    const digest = toHex(randomBytes(32))
    const good = await sign({ hash: digest, privateKey, to: 'hex' })
    const { r, s, v } = parts(good)
    // an x with no point on the curve: x^3 + 7 must be a non-residue; x = 5 is one
    const malformed: Hex[] = [
      join(0n, s, v),
      join(r, 0n, v),
      join(N, s, v),
      join(r, N, v),
      join(N + 1n, s, v),
      join(2n ** 256n - 1n, s, v),
      join(r, 2n ** 256n - 1n, v),
      join(5n, s, v),
      join(r, s, 2),
      join(r, s, 3),
      join(r, s, 26),
      join(r, s, 29),
      join(r, s, 255),
      good.slice(0, 130) as Hex,
      `${good}00`,
      `${good.slice(0, 131)}z` as Hex,
      '0x',
      join(r, s, v === 27 ? 28 : 27),
    ]
    for (const signature of malformed) {
      expect(await oursSays(digest, signature), signature).toBe(await viemSays(digest, signature))
    }
    expect(await oursSays(digest, join(r, s, 29))).toMatch(/^error: /)
    expect(await oursSays(digest, join(0n, s, v))).toMatch(/^error: /)
  })

  it('reduces a digest above n as viem does', async () => {
    const privateKey = generatePrivateKey()
    const digest = `0x${word(N + 12345n)}` as Hex
    const signature = await sign({ hash: digest, privateKey, to: 'hex' })
    expect(await oursSays(digest, signature)).toBe(await viemSays(digest, signature))
    expect(await oursSays(digest, signature)).toBe(privateKeyToAccount(privateKey).address)
  })

  it('leaves a digest that is not 32 bytes to viem', async () => {
    const privateKey = generatePrivateKey()
    const digest = toHex(randomBytes(32))
    const signature = await sign({ hash: digest, privateKey, to: 'hex' })
    const short = digest.slice(0, 64) as Hex
    expect(await oursSays(short, signature)).toBe(await viemSays(short, signature))
  })
})

describe('vouchers recover through the same path', () => {
  it('recovers the signer viem recovers; another key is refused', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const channels = {
      chainId: 31337,
      verifyingContract: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512' as const,
    }
    const voucher = await signVoucher(account, channels, {
      channelId: toHex(randomBytes(32)),
      cumulativeAmount: 5n,
    })
    const viems = await recoverTypedDataAddress({
      ...voucherTypedData(channels, voucher),
      signature: voucher.signature,
    })
    expect(await recoverVoucherSigner(channels, voucher)).toBe(viems)
    expect(viems).toBe(account.address)
    await verifyVoucher(channels, voucher, account.address)
    const stranger = privateKeyToAccount(generatePrivateKey()).address
    await expect(verifyVoucher(channels, voucher, stranger)).rejects.toThrow()
  })
})
