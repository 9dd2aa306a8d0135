import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { toFunctionSelector } from 'viem'
import { afterAll, describe, expect, it } from 'vitest'
import {
  ARTIFACTS_MANIFEST,
  checkPublicSignals,
  encodeVerifyProofCall,
  generateCircuit,
  loadZkArtifacts,
  PUBLIC_SIGNAL_NAMES,
  publicSignalsOf,
  quantizeMlp,
  toGroth16CallArguments,
} from '../../src/zk/index.js'
import { randomMlp } from './helpers.js'

/** The generated circuit's public interface, checked on its source (no compile, no setup). */
describe('inference circuit: public signals and the job binding', () => {
  const circuit = generateCircuit(quantizeMlp(randomMlp([4, 3, 2], 3), { scaleBits: 8, valueBits: 20 }))
  const dir = mkdtempSync(join(tmpdir(), 'ocn-zk-circuit-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('makes the job binding the fourth public signal, after the three commitments', () => {
    expect(PUBLIC_SIGNAL_NAMES).toEqual([
      'modelCommitment',
      'inputCommitment',
      'outputCommitment',
      'jobBinding',
    ])
    expect(circuit.source).toContain(
      'component main {public [modelCommitment, inputCommitment, outputCommitment, jobBinding]}',
    )
    expect(circuit.source).toContain('signal input jobBinding;')
    expect(
      publicSignalsOf({ modelCommitment: '1', inputCommitment: '2', outputCommitment: '3' }, '4'),
    ).toEqual(['1', '2', '3', '4'])
  })

  it('constrains the binding with a quadratic constraint, so it cannot be changed under a proof', () => {
    // the only use of the binding is its square: one constraint that circom's simplification keeps
    const uses = circuit.source
      .split('\n')
      .filter((line) => /\bjobBinding\b/.test(line) && !line.trim().startsWith('//'))
    expect(uses.map((l) => l.trim())).toEqual([
      'signal input jobBinding;',
      'jobBindingSquare <== jobBinding * jobBinding;',
      'component main {public [modelCommitment, inputCommitment, outputCommitment, jobBinding]} = OcnMlpInference();',
    ])
  })

  it('takes and encodes exactly four public signals for the uint256[4] verifier', () => {
    expect(() => checkPublicSignals(['1', '2', '3'])).toThrow(
      expect.objectContaining({ code: 'ZK_BAD_PROOF' }),
    )
    expect(checkPublicSignals(['1', '2', '3', '4'])).toEqual(['1', '2', '3', '4'])
    const proof = {
      pi_a: ['1', '2', '1'],
      pi_b: [
        ['3', '4'],
        ['5', '6'],
        ['1', '0'],
      ],
      pi_c: ['7', '8', '1'],
      protocol: 'groth16',
      curve: 'bn128',
    }
    expect(toGroth16CallArguments(proof, ['10', '11', '12', '13']).publicSignals).toEqual([
      10n,
      11n,
      12n,
      13n,
    ])
    const calldata = encodeVerifyProofCall(proof, ['10', '11', '12', '13'])
    // the selector of snarkjs's exported verifier with four signals (and of IGroth16Verifier)
    expect(calldata.slice(0, 10)).toBe(
      toFunctionSelector('verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[4])'),
    )
    // selector, 2 + 4 + 2 proof words, 4 signals
    expect((calldata.length - 10) / 64).toBe(12)
  })

  it('refuses a circuit folder from before the binding, naming the fix', () => {
    writeFileSync(join(dir, ARTIFACTS_MANIFEST), JSON.stringify({ version: 1 }))
    expect(() => loadZkArtifacts(dir)).toThrow(
      expect.objectContaining({
        code: 'ZK_ARTIFACTS',
        message: expect.stringMatching(/predates the job binding/),
      }),
    )
  })
})
