/**
 * Signed checkpoints: an Ed25519 signature over the audit chain's head at a moment. The hash chain
 * shows that entries were not changed relative to each other; a checkpoint kept outside the
 * database also shows that the chain was not truncated or rebuilt wholesale since it was signed.
 */
import assert from 'node:assert/strict';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hash,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { CheckpointRow } from '../core/store.js';

/** Hex characters of the public key fingerprint. */
const FINGERPRINT_HEX_LENGTH = 16;
/** Bytes in an Ed25519 signature. */
const SIGNATURE_BYTES = 64;
const HASH_HEX_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The service's signing identity. `fingerprint` is the first 16 hex digits of SHA-256 over the
 * public key's DER SubjectPublicKeyInfo; it names the key in checkpoints so an auditor can pick the
 * right public key. `publicKeyPem` is the SPKI PEM to hand to auditors.
 */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  fingerprint: string;
}

/**
 * Loads the Ed25519 private key stored at `path` (PEM, PKCS#8), or creates one there if the file
 * does not exist. Called once at startup by whatever writes checkpoints.
 *
 * Creation makes missing parent directories (mode 0700), writes the key to a temporary file in the
 * same directory with mode 0600, flushes it to disk, and then publishes it under `path` atomically,
 * so a crash leaves either no key or a whole key. If two processes create the key at the same
 * moment, one wins and the other loads the winner's key.
 *
 * Throws an Error naming `path` when the file exists but is not an Ed25519 PKCS#8 PEM private key
 * (a corrupt key must never be replaced silently: checkpoints signed by it would become
 * unverifiable), and passes through file system errors (permissions, disk full).
 */
export function loadOrCreateSigningKey(path: string): { key: SigningKey; created: boolean } {
  const existing = readKeyFileOrNull(path);
  if (existing !== null) return { key: parseSigningKey(existing, path), created: false };
  const privateKeyPem = generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const created = publishKeyFile(path, privateKeyPem);
  const storedPem = created ? privateKeyPem : readFileSync(path, 'utf8');
  return { key: parseSigningKey(storedPem, path), created };
}

/**
 * Parses an Ed25519 public key from SPKI PEM (a private key PEM also works: its public half is
 * used) and computes its fingerprint. Used by auditors and `audit verify`. Throws an Error when the
 * text is not an Ed25519 key.
 */
export function loadPublicKey(pem: string): { publicKey: KeyObject; fingerprint: string } {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch (cause) {
    throw new Error(`public key is not a valid PEM key: ${describeError(cause)}`, { cause });
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`public key is ${String(publicKey.asymmetricKeyType)}, expected ed25519`);
  }
  return { publicKey, fingerprint: fingerprintOf(publicKey) };
}

/**
 * A signed statement that the audit chain's entry `auditSeq` had hash `headHash` at `atMs`
 * (milliseconds since the Unix epoch, UTC). `keyFingerprint` names the signing key; `signature` is
 * the base64 Ed25519 signature over {@link checkpointMessage}. A checkpoint of an empty chain has
 * `auditSeq` 0 and the genesis hash.
 */
export type Checkpoint = CheckpointRow;

/**
 * The exact text signed, as UTF-8 bytes (all ASCII):
 * `amisync-checkpoint-v1|${auditSeq}|${headHash}|${atMs}` with the numbers in plain decimal and the
 * hash in lowercase hex.
 */
export function checkpointMessage(auditSeq: number, headHash: string, atMs: number): string {
  return `amisync-checkpoint-v1|${auditSeq}|${headHash}|${atMs}`;
}

/**
 * Signs the chain head `head` at `atMs`. Pure apart from the signature computation; the caller
 * stores or publishes the result. A malformed head or time is a programmer error (assertion).
 */
export function signCheckpoint(
  key: SigningKey,
  head: { seq: number; hash: string },
  atMs: number,
): Checkpoint {
  const { seq: auditSeq, hash: headHash } = head;
  assert.ok(Number.isSafeInteger(auditSeq) && auditSeq >= 0, `head seq ${auditSeq} is invalid`);
  assert.match(headHash, HASH_HEX_PATTERN, 'head hash must be 64 lowercase hex digits');
  assert.ok(Number.isSafeInteger(atMs) && atMs >= 0, `atMs ${atMs} is not a valid time`);
  const message = Buffer.from(checkpointMessage(auditSeq, headHash, atMs), 'utf8');
  const signature = sign(null, message, key.privateKey).toString('base64');
  return { auditSeq, headHash, atMs, keyFingerprint: key.fingerprint, signature };
}

/**
 * Returns true only if `checkpoint` was signed by `publicKey` exactly as it stands: the fingerprint
 * must be this key's, and the signature must verify over the message rebuilt from the other fields.
 * Any malformed field makes it false rather than throwing, because checkpoints come from storage or
 * from other parties. Passing a key that is not Ed25519 is a programmer error (assertion).
 */
export function verifyCheckpoint(publicKey: KeyObject, checkpoint: Checkpoint): boolean {
  assert.equal(publicKey.asymmetricKeyType, 'ed25519', 'checkpoints are verified by Ed25519 keys');
  if (!isWellFormedCheckpoint(checkpoint)) return false;
  if (checkpoint.keyFingerprint !== fingerprintOf(publicKey)) return false;
  const signature = decodeSignature(checkpoint.signature);
  if (signature === null) return false;
  const { auditSeq, headHash, atMs } = checkpoint;
  const message = Buffer.from(checkpointMessage(auditSeq, headHash, atMs), 'utf8');
  return verify(null, message, publicKey, signature);
}

function isWellFormedCheckpoint(checkpoint: Checkpoint): boolean {
  return (
    typeof checkpoint === 'object' &&
    checkpoint !== null &&
    Number.isSafeInteger(checkpoint.auditSeq) &&
    checkpoint.auditSeq >= 0 &&
    typeof checkpoint.headHash === 'string' &&
    HASH_HEX_PATTERN.test(checkpoint.headHash) &&
    Number.isSafeInteger(checkpoint.atMs) &&
    checkpoint.atMs >= 0 &&
    typeof checkpoint.keyFingerprint === 'string' &&
    typeof checkpoint.signature === 'string'
  );
}

/**
 * Decodes a base64 signature, or returns null unless it is exactly the canonical encoding of 64
 * bytes. Node's base64 decoder skips invalid characters and ignores the unused low bits of the last
 * digit, so without the round-trip check an edited signature text could decode to the same bytes
 * and still pass.
 */
function decodeSignature(signatureBase64: string): Buffer | null {
  const signature = Buffer.from(signatureBase64, 'base64');
  if (signature.length !== SIGNATURE_BYTES) return null;
  return signature.toString('base64') === signatureBase64 ? signature : null;
}

function fingerprintOf(publicKey: KeyObject): string {
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  return hash('sha256', spkiDer, 'hex').slice(0, FINGERPRINT_HEX_LENGTH);
}

/** Reads the key file, or returns null if it does not exist. */
function readKeyFileOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return null;
    throw error;
  }
}

function parseSigningKey(privateKeyPem: string, path: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch (cause) {
    const detail = describeError(cause);
    const message = `signing key file ${path} is not a PEM PKCS#8 private key: ${detail}`;
    throw new Error(message, { cause });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    const actualType = String(privateKey.asymmetricKeyType);
    throw new Error(`signing key file ${path} holds a ${actualType} key, expected ed25519`);
  }
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKey, publicKeyPem, fingerprint: fingerprintOf(publicKey) };
}

/**
 * Writes `pem` to `path` unless a file is already there. Returns true if this call created it.
 *
 * The key goes to a temporary file first and is then hard-linked to `path` rather than renamed:
 * both publish atomically, but link fails when `path` exists where rename would silently replace a
 * key another process created a moment earlier (whose checkpoints would then be unverifiable).
 */
function publishKeyFile(path: string, pem: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporaryPath = `${path}.${process.pid}.tmp`;
  writeFileDurably(temporaryPath, pem);
  try {
    linkSync(temporaryPath, path);
    fsyncDirectory(dirname(path));
    return true;
  } catch (error) {
    if (isErrorCode(error, 'EEXIST')) return false;
    throw error;
  } finally {
    rmSync(temporaryPath, { force: true });
  }
}

function writeFileDurably(path: string, text: string): void {
  // A temporary file left by a crashed earlier run of the same pid may exist with other
  // permissions.
  rmSync(path, { force: true });
  const descriptor = openSync(path, 'wx', 0o600);
  try {
    // The process umask could only have removed bits; set the mode exactly, before any secret is
    // written.
    fchmodSync(descriptor, 0o600);
    writeFileSync(descriptor, text, 'utf8');
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

function fsyncDirectory(path: string): void {
  const descriptor = openSync(path, 'r');
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

function isErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
