// Goal: roots and inclusion proofs are exactly RFC 6962's, verification follows RFC 9162, and it is
// fast. Method: published CT vectors, a recursive reference written from the RFC text, and
// generated trees.
import { AssertionError } from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  inclusionProof,
  leafBlockData,
  leafHash,
  merkleRoot,
  merkleRootOfLeafData,
  merkleRootOfBlocks,
  nodeHash,
  verifyInclusion,
} from './merkle.js';

// Test vectors from transparency-dev/merkle testonly/constants.go (the CT reference leaves and the
// RFC 6962 roots of each prefix of them), used as data.
const VECTOR_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((hex) => new Uint8Array(Buffer.from(hex, 'hex')));

const VECTOR_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** The published leaf hashes (level 0 of NodeHashes in the same file). */
const VECTOR_LEAF_HASHES = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
  '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
  '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
  'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
  'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
  '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
];

/** Inclusion proofs in the 8-leaf tree, as published in the CT test suites. */
const VECTOR_PROOFS: [number, string[]][] = [
  [
    0,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    5,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

// A reference written straight from RFC 6962 section 2.1, recursion and all, with createHash so
// that it shares no code with the implementation. Like merkleRoot, it takes the leaf hashes.
function sha256(...parts: Uint8Array[]): Buffer {
  const digest = createHash('sha256');
  for (const part of parts) digest.update(part);
  return digest.digest();
}

function referenceLeafHash(data: Uint8Array): Buffer {
  return sha256(Buffer.of(0x00), data);
}

/** The largest power of two smaller than `n` (n > 1). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function referenceRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return Buffer.from(leaves[0] as Uint8Array);
  const k = splitPoint(leaves.length);
  return sha256(Buffer.of(0x01), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

function referencePath(m: number, leaves: readonly Uint8Array[]): string[] {
  if (leaves.length <= 1) return [];
  const k = splitPoint(leaves.length);
  const [left, right] = [leaves.slice(0, k), leaves.slice(k)];
  if (m < k) return [...referencePath(m, left), referenceRoot(right).toString('hex')];
  return [...referencePath(m - k, right), referenceRoot(left).toString('hex')];
}

/** Distinct leaves: with duplicates, a proof for one copy rightly verifies at the other's index. */
const distinctLeafHashes = fc
  .uniqueArray(fc.uint8Array({ maxLength: 24 }), {
    minLength: 1,
    maxLength: 40,
    selector: (leaf) => Buffer.from(leaf).toString('hex'),
  })
  .map((leaves) => leaves.map(referenceLeafHash));

const VECTOR_LEAF_HASH_BYTES = VECTOR_LEAVES.map(leafHash);

function flipHexDigit(hex: string, position: number): string {
  const digit = hex[position] === '0' ? '1' : '0';
  return hex.slice(0, position) + digit + hex.slice(position + 1);
}

describe('RFC 6962 hashes against published vectors', () => {
  it('hashes leaves with the 0x00 prefix', () => {
    expect(VECTOR_LEAF_HASH_BYTES.map((leaf) => leaf.toString('hex'))).toEqual(VECTOR_LEAF_HASHES);
  });

  it('gives the published root for every tree size 0..8', () => {
    for (let size = 0; size <= VECTOR_LEAVES.length; size += 1) {
      const root = merkleRoot(VECTOR_LEAF_HASH_BYTES.slice(0, size));
      expect(root, `size ${size}`).toBe(VECTOR_ROOTS[size]);
    }
  });

  it('hashes interior nodes with the 0x01 prefix', () => {
    const [left, right] = VECTOR_LEAF_HASH_BYTES;
    expect(nodeHash(left as Buffer, right as Buffer).toString('hex')).toBe(VECTOR_ROOTS[2]);
    expect(() => nodeHash(Buffer.alloc(31), right as Buffer)).toThrow(AssertionError);
  });

  it.each(VECTOR_PROOFS)('gives and accepts the published proof of leaf %i', (index, proof) => {
    expect(inclusionProof(VECTOR_LEAF_HASH_BYTES, index)).toEqual(proof);
    const leaf = VECTOR_LEAF_HASH_BYTES[index] as Uint8Array;
    expect(verifyInclusion(leaf, index, 8, proof, VECTOR_ROOTS[8] as string)).toBe(true);
  });

  it('takes a string leaf as its UTF-8 bytes', () => {
    expect(leafHash('h\u00e9')).toEqual(leafHash(Buffer.from('h\u00e9', 'utf8')));
    expect(leafHash('h\u00e9')).toEqual(referenceLeafHash(Buffer.from('h\u00e9', 'utf8')));
  });

  it('hashes leaves of any size, including large ones', () => {
    const large = Buffer.alloc(70_000, 7);
    expect(leafHash(large)).toEqual(referenceLeafHash(large));
    expect(leafHash(new Uint8Array(0)).toString('hex')).toBe(VECTOR_LEAF_HASHES[0]);
  });

  it('refuses leaves that are not 32-byte leaf hashes (raw entries passed by mistake)', () => {
    expect(() => merkleRoot([Buffer.from('raw reading')])).toThrow(AssertionError);
    expect(() => inclusionProof([...VECTOR_LEAF_HASH_BYTES, Buffer.alloc(33)], 0)).toThrow(
      AssertionError,
    );
  });
});

describe('merkleRoot and inclusionProof against the recursive reference', () => {
  it('agree for every tree size up to 40 and around the powers of two 64 and 128', () => {
    const leaves = Array.from({ length: 129 }, (_, index) => leafHash(`reading ${index}`));
    const sizes = [...Array.from({ length: 41 }, (_, size) => size), 63, 64, 65, 127, 128, 129];
    for (const size of sizes) {
      const prefix = leaves.slice(0, size);
      expect(merkleRoot(prefix)).toBe(referenceRoot(prefix).toString('hex'));
      for (let index = 0; index < size; index += 1) {
        expect(inclusionProof(prefix, index)).toEqual(referencePath(index, prefix));
      }
    }
  });

  it('agree for generated leaves', () => {
    const leafHashes = fc.array(fc.uint8Array({ maxLength: 40 }).map(referenceLeafHash), {
      maxLength: 40,
    });
    fc.assert(
      fc.property(leafHashes, (leaves) => {
        expect(merkleRoot(leaves)).toBe(referenceRoot(leaves).toString('hex'));
      }),
    );
  });

  it('accept leaf hashes that are views into a larger buffer', () => {
    const backing = Buffer.concat(VECTOR_LEAF_HASH_BYTES);
    const views = VECTOR_LEAF_HASH_BYTES.map((_, index) =>
      backing.subarray(index * 32, index * 32 + 32),
    );
    expect(merkleRoot(views)).toBe(VECTOR_ROOTS[8]);
  });

  it('refuses an index outside the tree', () => {
    expect(() => inclusionProof(VECTOR_LEAF_HASH_BYTES, 8)).toThrow(AssertionError);
    expect(() => inclusionProof(VECTOR_LEAF_HASH_BYTES, -1)).toThrow(AssertionError);
    expect(() => inclusionProof([], 0)).toThrow(AssertionError);
  });
});

describe('verifyInclusion', () => {
  it('accepts every proof and rejects a wrong leaf, a wrong index or a tampered element', () => {
    fc.assert(
      fc.property(distinctLeafHashes, fc.nat(), fc.nat(), (leaves, otherSeed, digitSeed) => {
        const root = merkleRoot(leaves);
        const size = leaves.length;
        for (let index = 0; index < size; index += 1) {
          const leaf = leaves[index] as Uint8Array;
          const proof = inclusionProof(leaves, index);
          expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);

          const otherIndex = (index + 1 + (otherSeed % size)) % size;
          if (otherIndex !== index) {
            const otherLeaf = leaves[otherIndex] as Uint8Array;
            expect(verifyInclusion(otherLeaf, index, size, proof, root)).toBe(false);
            expect(verifyInclusion(leaf, otherIndex, size, proof, root)).toBe(false);
          }
          if (proof.length > 0) {
            const tampered = [...proof];
            const element = digitSeed % proof.length;
            tampered[element] = flipHexDigit(tampered[element] as string, digitSeed % 64);
            expect(verifyInclusion(leaf, index, size, tampered, root)).toBe(false);
            expect(verifyInclusion(leaf, index, size, proof.slice(1), root)).toBe(false);
          }
          expect(verifyInclusion(leaf, index, size, [...proof, root], root)).toBe(false);
        }
      }),
    );
  });

  it('rejects a tampered root and malformed arguments instead of throwing', () => {
    const leaf = VECTOR_LEAF_HASH_BYTES[0] as Uint8Array;
    const [, proof] = VECTOR_PROOFS[0] as [number, string[]];
    const root = VECTOR_ROOTS[8] as string;
    // A raw entry where its leaf hash belongs.
    expect(verifyInclusion(VECTOR_LEAVES[1] as Uint8Array, 0, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf.subarray(0, 31), 0, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 0, 8, proof, flipHexDigit(root, 0))).toBe(false);
    expect(verifyInclusion(leaf, -1, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 0.5, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 8, 8, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 0, Number.NaN, proof, root)).toBe(false);
    expect(verifyInclusion(leaf, 0, 8, [...proof.slice(0, 2), 'zz'], root)).toBe(false);
    expect(verifyInclusion(leaf, 0, 8, proof, root.slice(2))).toBe(false);
    expect(verifyInclusion(leaf, 0, 8, Array(65).fill(root) as string[], root)).toBe(false);
  });

  it('accepts upper-case hex', () => {
    const leaf = VECTOR_LEAF_HASH_BYTES[0] as Uint8Array;
    const [, proof] = VECTOR_PROOFS[0] as [number, string[]];
    const upper = proof.map((element) => element.toUpperCase());
    const upperRoot = (VECTOR_ROOTS[8] as string).toUpperCase();
    expect(verifyInclusion(leaf, 0, 8, upper, upperRoot)).toBe(true);
  });
});

describe('merkleRoot speed', () => {
  it('hashes 10,000 leaves well within budget', () => {
    const leaves = Array.from({ length: 10_000 }, (_, index) =>
      leafHash(`meter-${index}|${index * 7}`),
    );
    merkleRoot(leaves);
    const startMs = performance.now();
    merkleRoot(leaves);
    // The target is a few milliseconds; the bound is loose so a busy machine does not fail the
    // build.
    expect(performance.now() - startMs).toBeLessThan(200);
  });
});

describe('merkleRootOfLeafData', () => {
  it('equals merkleRoot over the leaf hashes of the same data', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 70 }), (data) => {
        expect(merkleRootOfLeafData(data)).toBe(merkleRoot(data.map((d) => leafHash(d))));
      }),
    );
  });
});

describe('merkleRootOfBlocks', () => {
  it('equals merkleRoot over the leaf hashes of the blocks, each its lines joined by a newline', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 90 }),
        fc.integer({ min: 1, max: 20 }),
        (lines, perLeaf) => {
          const blocks: string[] = [];
          for (let at = 0; at < lines.length; at += perLeaf) {
            blocks.push(lines.slice(at, at + perLeaf).join('\n'));
          }
          expect(merkleRootOfBlocks(lines, String, perLeaf)).toBe(
            merkleRoot(blocks.map((block) => leafHash(block))),
          );
          blocks.forEach((block, index) => {
            expect(leafBlockData(lines, index, perLeaf)).toBe(block);
          });
        },
      ),
    );
  });

  it('hashes a large block of non-ASCII lines as UTF-8', () => {
    const lines = Array.from({ length: 5 }, (_, i) => `${i}`.repeat(20_000) + '\u00e9\u4e2d');
    expect(merkleRootOfBlocks(lines, String, 4)).toBe(
      merkleRoot([leafHash(lines.slice(0, 4).join('\n')), leafHash(lines[4] ?? '')]),
    );
  });

  it('changes when any line changes, or when lines move between blocks', () => {
    const lines = Array.from({ length: 33 }, (_, i) => `line ${i}`);
    const root = merkleRootOfBlocks(lines, String, 16);
    const edited = [...lines];
    edited[20] = 'line 20 edited';
    expect(merkleRootOfBlocks(edited, String, 16)).not.toBe(root);
    expect(merkleRootOfBlocks(lines, String, 8)).not.toBe(root);
    expect(merkleRootOfBlocks([...lines].reverse(), String, 16)).not.toBe(root);
  });
});
