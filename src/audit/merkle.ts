/**
 * RFC 6962 (Certificate Transparency) Merkle tree hashes: the root a batch audit entry carries over
 * its readings, and the proof that one reading is in that batch. Following the standard exactly
 * lets any CT tool or library check our proofs.
 *
 * Usage: hash each entry with `leafHash`, then pass the list of leaf hashes to `merkleRoot` and
 * `inclusionProof`, and one leaf hash to `verifyInclusion`.
 */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';

/** Bytes in a SHA-256 hash. */
const HASH_BYTES = 32;
/** Proof elements and roots are exchanged as 64 hex digits; either case is accepted on input. */
const HASH_HEX_PATTERN = /^[0-9a-fA-F]{64}$/;
/** A tree of at most 2^53 leaves is never deeper than this, so no valid proof is longer. */
const PROOF_LENGTH_MAX = 64;

// Building a tree hashes one 65-byte input per node, and at that size the cost is in allocation
// more than in SHA-256: one-shot `hash` returning a 'binary' (latin1) string is about twice as fast
// as returning a Buffer. So internally a hash is a 32-character latin1 string, and node inputs are
// assembled in one reused buffer, which is safe because every use is synchronous.
const nodeScratch = Buffer.alloc(1 + 2 * HASH_BYTES);
const LEAF_PREFIX = Buffer.of(0x00);

/** Returns the RFC 6962 leaf hash SHA-256(0x00 || data); a string is taken as its UTF-8 bytes. */
export function leafHash(data: string | Uint8Array): Buffer {
  return Buffer.from(leafHashBinary(data), 'latin1');
}

/**
 * Returns the RFC 6962 interior node hash SHA-256(0x01 || left || right). Both children must be
 * 32-byte hashes (assertion).
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return hash('sha256', loadNodeInput(left, right), 'buffer');
}

/**
 * Returns the RFC 6962 tree head MTH(D[n]) (section 2.1) as lowercase hex, given the leaf hashes
 * `leafHashes[i] = leafHash(D[i])` rather than the entries themselves: callers hash rows one at a
 * time as they read them, and the printed leaf hash is what RFC 9162 verifiers start from. Each
 * must be 32 bytes (assertion), which also catches raw entries passed by mistake. The empty tree's
 * root is SHA-256 of nothing, e3b0c442...b855.
 *
 * Built bottom-up, pairing neighbours and carrying an unpaired last node up a level unchanged,
 * which gives the same root as the RFC's split at the largest power of two below n, in O(n) time.
 */
export function merkleRoot(leafHashes: readonly Uint8Array[]): string {
  if (leafHashes.length === 0) return hash('sha256', '', 'hex');
  const level = reduceLeafLevel(leafHashes);
  let size = level.length;
  while (size > 1) {
    size = reduceLevel(level, size);
  }
  return binaryToHex(level[0] ?? assert.fail('a non-empty tree has a root'));
}

/**
 * The root over leaves given as their data (each hashed with {@link leafHash}), computed without a
 * Buffer per leaf: the batch commit's hot path. Equal to `merkleRoot(leaves.map(leafHash))`.
 */
export function merkleRootOfLeafData(leaves: readonly string[]): string {
  if (leaves.length === 0) return hash('sha256', '', 'hex');
  const level = leaves.map(leafHashBinary);
  let size = level.length;
  while (size > 1) size = reduceLevel(level, size);
  return binaryToHex(level[0] ?? assert.fail('a non-empty tree has a root'));
}

/**
 * The root over leaves that are each a block of up to `linesPerLeaf` consecutive lines, the line of
 * item k being `toLine(items[k])`: leaf i is lines [i * linesPerLeaf, (i + 1) * linesPerLeaf)
 * joined by a newline (no trailing one), as {@link leafBlockData} writes it. Equal to
 * `merkleRoot(blocks.map((block) => leafHash(block.join('\n'))))`.
 *
 * Grouping rows into leaves is what keeps the Merkle tree off the ingestion hot path: one SHA-256
 * call has a fixed cost several times that of hashing a 150-byte line, so a tree over single rows
 * costs about 2 calls per row, and one over blocks of 16 rows about 1/8 call per row for the same
 * bytes. A proof then carries the block's lines and the RFC 6962 path of the block. Each block's
 * lines are built and joined together, which V8 does several times faster than hashing lines that
 * were all built first.
 */
export function merkleRootOfBlocks<T>(
  items: readonly T[],
  toLine: (item: T) => string,
  linesPerLeaf: number,
): string {
  assert.ok(Number.isSafeInteger(linesPerLeaf) && linesPerLeaf >= 1, 'linesPerLeaf >= 1');
  if (items.length === 0) return hash('sha256', '', 'hex');
  const level: string[] = [];
  const block: string[] = [];
  for (let first = 0; first < items.length; first += linesPerLeaf) {
    const end = Math.min(items.length, first + linesPerLeaf);
    block.length = 0;
    for (let index = first; index < end; index++) block.push(toLine(items[index] as T));
    level.push(leafHashBinary(block.join('\n')));
  }
  let size = level.length;
  while (size > 1) size = reduceLevel(level, size);
  return binaryToHex(level[0] ?? assert.fail('a non-empty tree has a root'));
}

/** The entry bytes (as text) of leaf `leafIndex` of {@link merkleRootOfLineBlocks}. */
export function leafBlockData(
  lines: readonly string[],
  leafIndex: number,
  linesPerLeaf: number,
): string {
  return lines.slice(leafIndex * linesPerLeaf, (leafIndex + 1) * linesPerLeaf).join('\n');
}

/**
 * Returns the audit path PATH(m, D[n]) of RFC 6962 section 2.1.1 for leaf `index` as lowercase hex,
 * nearest the leaf first: the sibling hashes needed to recompute the root from that leaf's hash.
 * Takes leaf hashes like {@link merkleRoot}. A tree of one leaf has an empty path. `index` must be
 * a valid leaf position (assertion).
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): string[] {
  assert.ok(
    Number.isSafeInteger(index) && index >= 0 && index < leafHashes.length,
    `leaf index ${index} is outside a tree of ${leafHashes.length} leaves`,
  );
  const leafSibling = siblingOf(leafHashes, leafHashes.length, index);
  const proof = leafSibling === undefined ? [] : [Buffer.from(leafSibling).toString('hex')];
  const level = reduceLeafLevel(leafHashes);
  let size = level.length;
  let position = Math.floor(index / 2);
  while (size > 1) {
    const sibling = siblingOf(level, size, position);
    if (sibling !== undefined) proof.push(binaryToHex(sibling));
    size = reduceLevel(level, size);
    position = Math.floor(position / 2);
  }
  return proof;
}

/**
 * Checks that the leaf whose hash is `leafHashBytes` (= `leafHash(entry)`) is leaf `index` of a
 * tree of `treeSize` leaves with root `rootHex`, using audit path `proof`, by the algorithm of RFC
 * 9162 section 2.1.3.2.
 *
 * Every argument may come from an untrusted party: malformed ones (a leaf hash that is not 32
 * bytes, a non-integer or out-of-range index or size, a proof element or root that is not 64 hex
 * digits, an overlong proof) make it return false, never throw.
 *
 * As in the RFC, a proof is bound to the root, not to `treeSize` alone: the tree size must come
 * from the same trusted record as the root.
 */
export function verifyInclusion(
  leafHashBytes: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly string[],
  rootHex: string,
): boolean {
  if (!(leafHashBytes instanceof Uint8Array) || leafHashBytes.length !== HASH_BYTES) return false;
  if (!isValidPosition(index, treeSize) || !isWellFormedProof(proof, rootHex)) return false;
  let indexBits = index;
  let lastBits = treeSize - 1;
  let computed: Buffer = Buffer.from(leafHashBytes);
  for (const elementHex of proof) {
    if (lastBits === 0) return false;
    const element = Buffer.from(elementHex, 'hex');
    if (indexBits % 2 === 1 || indexBits === lastBits) {
      computed = nodeHash(element, computed);
      // A right-edge node with no sibling is carried up unchanged; skip the levels it was carried.
      while (indexBits % 2 === 0 && indexBits !== 0) {
        indexBits /= 2;
        lastBits = Math.floor(lastBits / 2);
      }
    } else {
      computed = nodeHash(computed, element);
    }
    indexBits = Math.floor(indexBits / 2);
    lastBits = Math.floor(lastBits / 2);
  }
  return lastBits === 0 && computed.toString('hex') === rootHex.toLowerCase();
}

function isValidPosition(index: number, treeSize: number): boolean {
  return (
    Number.isSafeInteger(index) && Number.isSafeInteger(treeSize) && index >= 0 && index < treeSize
  );
}

function isWellFormedProof(proof: readonly string[], rootHex: string): boolean {
  return (
    Array.isArray(proof) &&
    proof.length <= PROOF_LENGTH_MAX &&
    proof.every((element) => typeof element === 'string' && HASH_HEX_PATTERN.test(element)) &&
    typeof rootHex === 'string' &&
    HASH_HEX_PATTERN.test(rootHex)
  );
}

/**
 * Returns the level above the leaves. Reading the leaf hashes straight into the node input, rather
 * than converting them all first, saves a fifth of the time of a large tree.
 */
function reduceLeafLevel(leafHashes: readonly Uint8Array[]): string[] {
  const parents: string[] = [];
  const size = leafHashes.length;
  for (let left = 0; left + 1 < size; left += 2) {
    const leftHash = leafHashes[left] ?? assert.fail('left leaf within bounds');
    const rightHash = leafHashes[left + 1] ?? assert.fail('right leaf within bounds');
    parents.push(hash('sha256', loadNodeInput(leftHash, rightHash), 'binary'));
  }
  const unpaired = size % 2 === 1 ? leafHashes[size - 1] : undefined;
  if (unpaired !== undefined) {
    assertHashLength(unpaired);
    parents.push(Buffer.from(unpaired.buffer, unpaired.byteOffset, HASH_BYTES).toString('latin1'));
  }
  return parents;
}

/**
 * Replaces the first `size` nodes of `level` by their parents, in place, and returns the parent
 * count. In place is safe because parent i is written only after children 2i and 2i+1 were read;
 * entries past the returned count are stale.
 */
function reduceLevel(level: string[], size: number): number {
  let parentCount = 0;
  for (let left = 0; left + 1 < size; left += 2) {
    level[parentCount] = nodeHashBinary(level[left] ?? '', level[left + 1] ?? '');
    parentCount += 1;
  }
  if (size % 2 === 1) {
    level[parentCount] = level[size - 1] ?? '';
    parentCount += 1;
  }
  return parentCount;
}

/** The node paired with `position` among the first `size` of `level`, or undefined if unpaired. */
function siblingOf<Node>(level: readonly Node[], size: number, position: number): Node | undefined {
  if (position % 2 === 1) return level[position - 1];
  return position + 1 < size ? level[position + 1] : undefined;
}

function leafHashBinary(data: string | Uint8Array): string {
  // A string's UTF-8 encoding is what `hash` hashes, and U+0000 encodes as the single byte 0x00.
  const input = typeof data === 'string' ? `\u0000${data}` : Buffer.concat([LEAF_PREFIX, data]);
  return hash('sha256', input, 'binary');
}

function nodeHashBinary(left: string, right: string): string {
  assert.ok(left.length === HASH_BYTES && right.length === HASH_BYTES, 'children must be hashes');
  nodeScratch[0] = 0x01;
  nodeScratch.write(left, 1, 'latin1');
  nodeScratch.write(right, 1 + HASH_BYTES, 'latin1');
  return hash('sha256', nodeScratch, 'binary');
}

/** Fills the reused node input with 0x01 || left || right and returns it. */
function loadNodeInput(left: Uint8Array, right: Uint8Array): Buffer {
  assertHashLength(left);
  assertHashLength(right);
  nodeScratch[0] = 0x01;
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_BYTES);
  return nodeScratch;
}

function assertHashLength(hashBytes: Uint8Array): void {
  if (hashBytes.length !== HASH_BYTES) {
    assert.fail(`merkle nodes and leaves must be 32-byte hashes, got ${hashBytes.length} bytes`);
  }
}

function binaryToHex(binary: string): string {
  return Buffer.from(binary, 'latin1').toString('hex');
}
