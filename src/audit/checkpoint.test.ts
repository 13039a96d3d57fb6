// Goal: a checkpoint verifies only unchanged and under its own key; the key file is private,
// stable, safe. Method: sign real heads with real Ed25519 keys, alter each field, and create keys
// in temporary folders.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkpointMessage,
  loadOrCreateSigningKey,
  loadPublicKey,
  signCheckpoint,
  verifyCheckpoint,
  type Checkpoint,
} from './checkpoint.js';
import { GENESIS_HASH, nextEntry } from './hash-chain.js';

const temporaryRoot = mkdtempSync(join(tmpdir(), 'amisync-checkpoint-'));
afterAll(() => rmSync(temporaryRoot, { recursive: true, force: true }));

let folderCount = 0;
function freshFolder(): string {
  folderCount += 1;
  return join(temporaryRoot, `case-${folderCount}`);
}

const { key } = loadOrCreateSigningKey(join(freshFolder(), 'signing.pem'));
const { key: otherKey } = loadOrCreateSigningKey(join(freshFolder(), 'signing.pem'));
const head = nextEntry(null, 'batch', { readingCount: 3 }, 1_700_000_000_000);
const checkpoint = signCheckpoint(key, head, 1_700_000_000_500);

const BASE64_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function flipHexDigit(hex: string, position: number): string {
  const digit = hex[position] === '0' ? '1' : '0';
  return hex.slice(0, position) + digit + hex.slice(position + 1);
}

describe('signCheckpoint and verifyCheckpoint', () => {
  it('signs the documented message and verifies with the matching public key', () => {
    expect(checkpointMessage(1, head.hash, 1_700_000_000_500)).toBe(
      `amisync-checkpoint-v1|1|${head.hash}|1700000000500`,
    );
    expect(checkpoint).toMatchObject({
      auditSeq: 1,
      headHash: head.hash,
      atMs: 1_700_000_000_500,
      keyFingerprint: key.fingerprint,
    });
    expect(Buffer.from(checkpoint.signature, 'base64')).toHaveLength(64);
    expect(verifyCheckpoint(key.publicKey, checkpoint)).toBe(true);
  });

  it('signs the empty chain as seq 0 with the genesis hash', () => {
    const empty = signCheckpoint(key, { seq: 0, hash: GENESIS_HASH }, 0);
    expect(verifyCheckpoint(key.publicKey, empty)).toBe(true);
  });

  it('fails when any field is changed', () => {
    const altered: Checkpoint[] = [
      { ...checkpoint, auditSeq: checkpoint.auditSeq + 1 },
      { ...checkpoint, headHash: flipHexDigit(checkpoint.headHash, 0) },
      { ...checkpoint, atMs: checkpoint.atMs + 1 },
      { ...checkpoint, keyFingerprint: flipHexDigit(checkpoint.keyFingerprint, 15) },
      { ...checkpoint, headHash: checkpoint.headHash.toUpperCase() },
    ];
    for (const changed of altered) expect(verifyCheckpoint(key.publicKey, changed)).toBe(false);
  });

  it('fails when any character of the signature is changed, including unused padding bits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: checkpoint.signature.length - 1 }),
        fc.constantFrom(...BASE64_DIGITS),
        (position, digit) => {
          const signature = checkpoint.signature;
          fc.pre(signature[position] !== digit && signature[position] !== '=');
          const changed = signature.slice(0, position) + digit + signature.slice(position + 1);
          const changedCheckpoint = { ...checkpoint, signature: changed };
          expect(verifyCheckpoint(key.publicKey, changedCheckpoint)).toBe(false);
        },
      ),
    );
  });

  it('fails under a different key, even with that key fingerprint written in', () => {
    expect(verifyCheckpoint(otherKey.publicKey, checkpoint)).toBe(false);
    const relabelled = { ...checkpoint, keyFingerprint: otherKey.fingerprint };
    expect(verifyCheckpoint(otherKey.publicKey, relabelled)).toBe(false);
  });

  it('returns false for malformed checkpoints instead of throwing', () => {
    const malformed = [
      { ...checkpoint, auditSeq: '1' },
      { ...checkpoint, atMs: Number.NaN },
      { ...checkpoint, signature: `${checkpoint.signature}AAAA` },
      { ...checkpoint, signature: checkpoint.signature.replace(/=+$/, '') },
      { ...checkpoint, signature: 42 },
    ] as unknown as Checkpoint[];
    for (const changed of malformed) expect(verifyCheckpoint(key.publicKey, changed)).toBe(false);
  });
});

describe('loadOrCreateSigningKey', () => {
  it('creates a 0600 PKCS#8 file and its parent folders, leaving no temporary file', () => {
    const folder = join(freshFolder(), 'nested', 'keys');
    const path = join(folder, 'signing.pem');
    const { key: created, created: wasCreated } = loadOrCreateSigningKey(path);
    expect(wasCreated).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(readdirSync(folder)).toEqual(['signing.pem']);
    expect(created.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(created.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  });

  it('reloads the same key from an existing file', () => {
    const path = join(freshFolder(), 'signing.pem');
    const first = loadOrCreateSigningKey(path);
    const second = loadOrCreateSigningKey(path);
    expect(second.created).toBe(false);
    expect(second.key.fingerprint).toBe(first.key.fingerprint);
    const signed = signCheckpoint(first.key, head, 5);
    expect(verifyCheckpoint(second.key.publicKey, signed)).toBe(true);
  });

  it('throws a clear error naming the path for a corrupt or wrong-type key file', () => {
    const folder = freshFolder();
    loadOrCreateSigningKey(join(folder, 'placeholder.pem'));
    const rsaPem = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const truncated = readFileSync(join(folder, 'placeholder.pem'), 'utf8').slice(0, 60);
    const contents: [string, string, RegExp][] = [
      ['garbage.pem', 'not a key at all', /is not a PEM PKCS#8 private key/],
      ['empty.pem', '', /is not a PEM PKCS#8 private key/],
      ['truncated.pem', truncated, /is not a PEM PKCS#8 private key/],
      ['rsa.pem', rsaPem, /holds a rsa key, expected ed25519/],
    ];
    for (const [name, text, message] of contents) {
      const path = join(folder, name);
      writeFileSync(path, text);
      expect(() => loadOrCreateSigningKey(path)).toThrow(message);
      expect(() => loadOrCreateSigningKey(path)).toThrow(`signing key file ${path} `);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });
});

describe('loadPublicKey', () => {
  it('gives the same fingerprint as the signing key, from the published PEM', () => {
    const loaded = loadPublicKey(key.publicKeyPem);
    expect(loaded.fingerprint).toBe(key.fingerprint);
    expect(verifyCheckpoint(loaded.publicKey, checkpoint)).toBe(true);
  });

  it('throws for text that is not an Ed25519 key', () => {
    expect(() => loadPublicKey('nonsense')).toThrow(/not a valid PEM key/);
    const rsaPublicPem = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    expect(() => loadPublicKey(rsaPublicPem)).toThrow(/is rsa, expected ed25519/);
  });
});
