/**
 * The detectors a data dictionary turns on (`detectorsFor`): the reference detectors of
 * src/detect over each stream's settings, in the dictionary's time zone. Ingestion and quarantine
 * replay run them unless told otherwise; an anomaly release, a quarantine accept and estimation
 * never do (an operator or amisync itself decided those readings).
 */
import type { Detectors } from '../core/detector.js';
import {
  anyDetectorEnabled,
  detectorSettingsResolver,
  detectorStatusBits,
} from '../dictionary/detector-settings.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import { createDetectorSuite } from '../detect/detect.js';

const NO_DETECTORS: Detectors = Object.freeze([]);

/** The dictionary's detectors; none at all when every scope turns them off. */
export function detectorsFor(dictionary: DataDictionary): Detectors {
  if (!anyDetectorEnabled(dictionary)) return NO_DETECTORS;
  return createDetectorSuite(
    detectorSettingsResolver(dictionary),
    detectorStatusBits(dictionary),
    dictionary.timeZone,
  );
}
