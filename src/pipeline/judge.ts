/**
 * The data dictionary's verdict on each parse item, whatever the format: a record with the
 * reference feed's fields goes through the record validator, a typed format's candidate reading
 * through the candidate validator of its format, and a parse reject stays a reject. Ingestion and
 * replay both judge through here, so a record replayed alone gets the verdict it would get in its
 * stream under the same dictionary.
 */
import assert from 'node:assert/strict';
import type { Clock } from '../core/clock.js';
import { isTypedFormat, type InputFormat, type ParseItem } from '../core/parser.js';
import type { Reject } from '../core/reject.js';
import { createCandidateValidator } from '../dictionary/candidate.js';
import type { DataDictionary } from '../dictionary/dictionary.js';
import { createValidator } from '../dictionary/validator.js';
import { createRegisterRecordValidator, isRegisterRecord } from '../dictionary/register-record.js';
import type { IdentifiedReading } from './identify.js';

export type Verdict = { ok: true; item: IdentifiedReading } | { ok: false; reject: Reject };

export type Judge = (item: ParseItem) => Verdict;

export function createJudge(dictionary: DataDictionary, clock: Clock, format: InputFormat): Judge {
  const validateRecord = createValidator(dictionary, clock);
  // A reference-feed record with register_kwh is a register read (src/core/register.ts).
  const validateRegisterRecord = createRegisterRecordValidator(dictionary, clock);
  const validateCandidate = isTypedFormat(format)
    ? createCandidateValidator(dictionary, clock, format)
    : null;
  return function judge(item: ParseItem): Verdict {
    switch (item.kind) {
      case 'reject':
        return { ok: false, reject: item.reject };
      case 'record': {
        const result = isRegisterRecord(item.record)
          ? validateRegisterRecord(item.record)
          : validateRecord(item.record);
        if (!result.ok) return result;
        return { ok: true, item: { reading: result.reading, location: item.record.location } };
      }
      case 'candidate': {
        const candidate = item.candidate;
        assert.ok(validateCandidate !== null, `a ${format} parser yields no candidate readings`);
        const result = validateCandidate(candidate);
        if (!result.ok) return result;
        return { ok: true, item: { reading: result.reading, location: candidate.location } };
      }
    }
  };
}
