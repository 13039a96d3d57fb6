/**
 * A store with something in every worklist, for the API, metrics and dashboard tests: readings
 * accepted, three held by the stand-in detectors, two quarantined (one over the default range that
 * the served dictionary accepts on replay, one unreadable), and a dead letter of a REST page.
 */
import type { ApiContext } from '../api/api-context.js';
import { addToken, type AddedToken } from '../cli/commands/tokens.js';
import type { AttemptRecord } from '../core/dead-letter.js';
import type { ApiRole } from '../core/store.js';
import { parseDictionary } from '../dictionary/dictionary.js';
import { recordDeadLetter } from '../pipeline/dead-letters.js';
import { heldFeed, heldRecord, TEST_DETECTORS } from './held-readings.js';
import { openHarness, type Harness } from './ingest-harness.js';
import { toNdjsonText } from './wire-text.js';

export const BAD_METER = 'MTR-EEEE0005';
export const DEAD_LETTER_SOURCE = 'vendor-a';

const ATTEMPTS: AttemptRecord[] = [1, 2, 3].map((n) => ({
  code: 'TRANSPORT_UNAVAILABLE',
  message: `attempt ${n}: connection reset`,
  startedAtMs: 1_000 * n,
  durationMs: 30 * n,
}));

export interface OperationsFixture {
  readonly harness: Harness;
  readonly context: ApiContext;
  /** A token of each role, made as `amisync tokens add` makes them. */
  readonly tokens: Readonly<Record<ApiRole, AddedToken>>;
  close(): Promise<void>;
}

/** The feed of the quarantine: one good reading, 1500 kWh (over the default 1000) and `12abc`. */
export function badFeedText(): string {
  return toNdjsonText([
    heldRecord(0, 1, '0.5', BAD_METER),
    heldRecord(1, 2, '1500', BAD_METER),
    heldRecord(2, 3, '12abc', BAD_METER),
  ]);
}

async function addTokens(path: string): Promise<Record<ApiRole, AddedToken>> {
  const tokens: Partial<Record<ApiRole, AddedToken>> = {};
  for (const role of ['viewer', 'operator', 'auditor', 'admin'] as const) {
    tokens[role] = await addToken({ db: path, role, name: `${role}-one` });
  }
  return tokens as Record<ApiRole, AddedToken>;
}

export async function buildOperationsFixture(): Promise<OperationsFixture> {
  const harness = openHarness();
  await harness.ingest(toNdjsonText(heldFeed()), { detectors: TEST_DETECTORS, name: 'held' });
  await harness.ingest(badFeedText(), { detectors: [], name: 'bad' });
  await recordDeadLetter(harness, {
    sourceId: DEAD_LETTER_SOURCE,
    name: 'page 9',
    format: 'ndjson',
    formatContext: {},
    transportId: 'page-9',
    attempt: 3,
    metadata: {},
    partitionKey: null,
    position: null,
    bytes: [Buffer.from(toNdjsonText([heldRecord(7, 8, '0.5', BAD_METER)]))],
    bytesComplete: true,
    request: null,
    attempts: ATTEMPTS,
    cause: 'attempts-exhausted',
  });
  const tokens = await addTokens(harness.path);
  const context: ApiContext = {
    store: harness.store,
    clock: harness.clock,
    random: harness.random,
    // The utility has raised its range since: a replay now accepts the 1500 kWh reading.
    dictionary: parseDictionary({ consumptionKwhMax: 5000 }),
    publicKey: null,
    open: false,
    lastVerify: null,
  };
  return { harness, context, tokens, close: () => harness.close() };
}
