/**
 * The Detector contract (ARCH 4): a pure look at one reading that identity would accept, against
 * its stream's state. A non-empty list of findings holds the reading in the anomaly ledger, apart
 * from billing, until an operator releases it. The detectors themselves (z-score, IQR, zero runs,
 * reverse flow, spikes) arrive with validation, estimation and editing; the pipeline already routes
 * their findings.
 */
import type { Reading } from '../core/reading.js';
import type { StreamState } from '../core/store.js';

export interface Finding {
  detector: string;
  message: string;
}

export interface Detector {
  readonly name: string;
  inspect(reading: Reading, state: Readonly<StreamState>): Finding[];
}

/** Runs every detector; returns all findings (empty when the reading looks ordinary). */
export function inspectReading(
  detectors: readonly Detector[],
  reading: Reading,
  state: Readonly<StreamState>,
): Finding[] {
  if (detectors.length === 0) return [];
  const findings: Finding[] = [];
  for (const detector of detectors) findings.push(...detector.inspect(reading, state));
  return findings;
}
