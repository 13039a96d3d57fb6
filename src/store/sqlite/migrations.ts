/**
 * Versioned schema for the embedded SQLite store. Migrations only ever append: a released migration
 * is never edited, so a database written by any version can be brought forward and its history
 * still verifies.
 *
 * Layout choices (ARCH 8): the ledger's unique index is in time order (interval start, meter,
 * channel, version) so inserts land at the right edge of the B-tree; the idempotency key is stored
 * and derivable but is not indexed, because a random key as an index costs 4-10x in write
 * amplification as the ledger grows.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

function appendOnly(table: string): string {
  return `
CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: rows cannot be updated'); END;
CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
BEGIN SELECT RAISE(ABORT, '${table} is append-only: rows cannot be deleted'); END;`;
}

const INITIAL_SCHEMA = `
CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  source_id TEXT NOT NULL,
  name TEXT NOT NULL,
  format TEXT NOT NULL,
  format_context TEXT NOT NULL,
  started_at_ms INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('in-progress', 'complete')),
  sha256 TEXT,
  size_bytes INTEGER,
  finished_at_ms INTEGER,
  received INTEGER NOT NULL DEFAULT 0,
  accepted INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  quarantined INTEGER NOT NULL DEFAULT 0,
  conflicts INTEGER NOT NULL DEFAULT 0,
  anomaly_held INTEGER NOT NULL DEFAULT 0,
  dead_lettered INTEGER NOT NULL DEFAULT 0,
  revisions INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TRIGGER deliveries_no_delete BEFORE DELETE ON deliveries
BEGIN SELECT RAISE(ABORT, 'deliveries cannot be deleted'); END;

CREATE TABLE raw_chunks (
  sha256 TEXT PRIMARY KEY,
  bytes BLOB NOT NULL
) STRICT;
${appendOnly('raw_chunks')}

CREATE TABLE delivery_chunks (
  delivery_id TEXT NOT NULL,
  byte_offset INTEGER NOT NULL,
  byte_length INTEGER NOT NULL,
  chunk_sha256 TEXT NOT NULL,
  PRIMARY KEY (delivery_id, byte_offset)
) STRICT, WITHOUT ROWID;
${appendOnly('delivery_chunks')}

CREATE TABLE ledger (
  id INTEGER PRIMARY KEY,
  interval_start_ms INTEGER NOT NULL,
  meter_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  interval_seconds INTEGER NOT NULL,
  energy_milli_wh INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  quality TEXT NOT NULL,
  checksum_sha256 TEXT,
  idempotency_key TEXT NOT NULL,
  supersedes_key TEXT,
  batch_id INTEGER NOT NULL,
  batch_position INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX ledger_interval ON ledger (interval_start_ms, meter_id, channel, version);
${appendOnly('ledger')}

CREATE TABLE batches (
  id INTEGER PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  source_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('ingest', 'replay', 'override')),
  received INTEGER NOT NULL,
  accepted INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  quarantined INTEGER NOT NULL,
  conflicts INTEGER NOT NULL,
  anomaly_held INTEGER NOT NULL,
  dead_lettered INTEGER NOT NULL,
  revisions INTEGER NOT NULL,
  ledger_root TEXT NOT NULL,
  quarantine_root TEXT NOT NULL,
  byte_offset INTEGER NOT NULL,
  byte_length INTEGER NOT NULL,
  committed_at_ms INTEGER NOT NULL,
  audit_seq INTEGER NOT NULL,
  ledger_first_id INTEGER,
  ledger_last_id INTEGER,
  CHECK (received = accepted + duplicates + quarantined + anomaly_held + dead_lettered)
) STRICT;
CREATE INDEX batches_delivery ON batches (delivery_id);
${appendOnly('batches')}

CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  batch_id INTEGER NOT NULL,
  batch_position INTEGER NOT NULL,
  record_index INTEGER NOT NULL,
  line INTEGER NOT NULL,
  byte_offset INTEGER NOT NULL,
  byte_length INTEGER NOT NULL,
  violations TEXT NOT NULL,
  first_code TEXT NOT NULL,
  meter_id TEXT,
  idempotency_key TEXT,
  related_idempotency_key TEXT,
  uncounted_span INTEGER NOT NULL,
  raw_sha256 TEXT NOT NULL,
  format TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'replayed', 'accepted', 'rejected')),
  current_violations TEXT NOT NULL,
  resolved_batch_id INTEGER
) STRICT;
CREATE INDEX quarantine_status ON quarantine (status, id);
CREATE INDEX quarantine_batch ON quarantine (batch_id);
CREATE TRIGGER quarantine_no_delete BEFORE DELETE ON quarantine
BEGIN SELECT RAISE(ABORT, 'quarantine rows are never deleted'); END;
CREATE TRIGGER quarantine_evidence_fixed BEFORE UPDATE ON quarantine
WHEN NEW.id IS NOT OLD.id OR NEW.delivery_id IS NOT OLD.delivery_id
  OR NEW.batch_id IS NOT OLD.batch_id OR NEW.batch_position IS NOT OLD.batch_position
  OR NEW.byte_offset IS NOT OLD.byte_offset OR NEW.byte_length IS NOT OLD.byte_length
  OR NEW.violations IS NOT OLD.violations OR NEW.raw_sha256 IS NOT OLD.raw_sha256
  OR NEW.idempotency_key IS NOT OLD.idempotency_key OR NEW.created_at_ms IS NOT OLD.created_at_ms
BEGIN SELECT RAISE(ABORT, 'quarantine evidence cannot be changed; only its status'); END;

CREATE TABLE quarantine_actions (
  id INTEGER PRIMARY KEY,
  quarantine_id INTEGER NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  actor TEXT NOT NULL,
  justification TEXT NOT NULL,
  violations TEXT NOT NULL,
  batch_id INTEGER,
  at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX quarantine_actions_item ON quarantine_actions (quarantine_id);
${appendOnly('quarantine_actions')}

CREATE TABLE anomalies (
  id INTEGER PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  batch_position INTEGER NOT NULL,
  reading TEXT NOT NULL,
  findings TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'held'
) STRICT;
CREATE TRIGGER anomalies_no_delete BEFORE DELETE ON anomalies
BEGIN SELECT RAISE(ABORT, 'anomaly holds are never deleted'); END;

CREATE TABLE stream_state (
  meter_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  last_interval_start_ms INTEGER,
  last_seq INTEGER,
  seq_gaps INTEGER NOT NULL,
  seq_regressions INTEGER NOT NULL,
  current_readings INTEGER NOT NULL,
  current_energy_milli_wh INTEGER NOT NULL,
  PRIMARY KEY (meter_id, channel)
) STRICT, WITHOUT ROWID;

CREATE TABLE sequence_events (
  id INTEGER PRIMARY KEY,
  meter_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('gap', 'regression')),
  expected_seq INTEGER NOT NULL,
  received_seq INTEGER NOT NULL,
  interval_start_ms INTEGER NOT NULL,
  batch_id INTEGER NOT NULL
) STRICT;
${appendOnly('sequence_events')}

CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
${appendOnly('audit_log')}

CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY,
  audit_seq INTEGER NOT NULL,
  head_hash TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  key_fingerprint TEXT NOT NULL,
  signature TEXT NOT NULL
) STRICT;
${appendOnly('checkpoints')}
`;

/** Anomaly holds keep their evidence; only their status may move (when release arrives). */
const ANOMALY_EVIDENCE_FIXED = `
CREATE TRIGGER anomalies_evidence_fixed BEFORE UPDATE ON anomalies
WHEN NEW.id IS NOT OLD.id OR NEW.batch_id IS NOT OLD.batch_id
  OR NEW.batch_position IS NOT OLD.batch_position OR NEW.reading IS NOT OLD.reading
  OR NEW.findings IS NOT OLD.findings
BEGIN SELECT RAISE(ABORT, 'anomaly evidence cannot be changed; only its status'); END;
`;

/**
 * Readings carry their commodity and unit (a NEM12 kVArh channel or a Green Button gas feed is
 * never summed into kWh), and the feed's own quality marks. Values are millionths of the unit, so
 * the kWh-only names are renamed; existing rows are kWh of electricity with no quality detail.
 */
const UNITS_AND_QUALITY_DETAIL = `
ALTER TABLE ledger RENAME COLUMN energy_milli_wh TO value_micro;
ALTER TABLE ledger ADD COLUMN commodity TEXT NOT NULL DEFAULT 'electricity';
ALTER TABLE ledger ADD COLUMN unit TEXT NOT NULL DEFAULT 'kWh';
ALTER TABLE ledger ADD COLUMN quality_detail TEXT;
ALTER TABLE stream_state RENAME COLUMN current_energy_milli_wh TO current_value_micro;
ALTER TABLE stream_state ADD COLUMN commodity TEXT NOT NULL DEFAULT 'electricity';
ALTER TABLE stream_state ADD COLUMN unit TEXT NOT NULL DEFAULT 'kWh';
`;

/**
 * A bad record that arrives again (same raw bytes, same reasons as an open item) is a repeat of
 * that item, not a new one: its own row here, covered by its batch's repeat Merkle root. The
 * partial index finds open items by raw hash, looked up for quarantined records only.
 */
const QUARANTINE_REPEATS = `
CREATE TABLE quarantine_repeats (
  id INTEGER PRIMARY KEY,
  quarantine_id INTEGER NOT NULL,
  delivery_id TEXT NOT NULL,
  batch_id INTEGER NOT NULL,
  batch_position INTEGER NOT NULL,
  record_index INTEGER NOT NULL,
  line INTEGER NOT NULL,
  byte_offset INTEGER NOT NULL,
  byte_length INTEGER NOT NULL,
  raw_sha256 TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX quarantine_repeats_batch ON quarantine_repeats (batch_id, batch_position);
CREATE INDEX quarantine_repeats_item ON quarantine_repeats (quarantine_id);
CREATE INDEX quarantine_open_raw ON quarantine (raw_sha256) WHERE status = 'open';
${appendOnly('quarantine_repeats')}
`;

/**
 * Which process holds a delivery while it runs (host, pid and that process's start time), so that
 * a later process can tell a running delivery from one whose process died; the interruption itself
 * is an append-only fact with the audit entry that records it. A redelivery names the interrupted
 * delivery it repeats.
 */
const DELIVERY_OWNERS_AND_INTERRUPTIONS = `
ALTER TABLE deliveries ADD COLUMN owner_host TEXT;
ALTER TABLE deliveries ADD COLUMN owner_pid INTEGER;
ALTER TABLE deliveries ADD COLUMN owner_started_at_ms INTEGER;
ALTER TABLE deliveries ADD COLUMN redelivers TEXT;
CREATE INDEX deliveries_unfinished ON deliveries (status) WHERE status = 'in-progress';
CREATE INDEX deliveries_redelivers ON deliveries (redelivers) WHERE redelivers IS NOT NULL;
CREATE TABLE delivery_interruptions (
  delivery_id TEXT PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  audit_seq INTEGER NOT NULL
) STRICT;
${appendOnly('delivery_interruptions')}
`;

const TRANSPORTS = `
ALTER TABLE deliveries ADD COLUMN transport_id TEXT;
ALTER TABLE deliveries ADD COLUMN first_delivery_id TEXT;
ALTER TABLE deliveries ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE deliveries ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE deliveries ADD COLUMN partition_key TEXT;
ALTER TABLE deliveries ADD COLUMN position TEXT;
CREATE INDEX deliveries_transport ON deliveries (source_id, transport_id)
  WHERE transport_id IS NOT NULL;
CREATE TABLE source_positions (
  source_id TEXT PRIMARY KEY,
  position TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  saved_at_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE vendors (
  name TEXT PRIMARY KEY,
  key_id TEXT NOT NULL UNIQUE,
  key_sha256 TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
) STRICT;
`;

/**
 * The meters each pushing vendor may deliver: a JSON list, a pattern, or any meter. Vendors are
 * otherwise the table migration 7 made (a key id and the key's sha256, never the key).
 */
const VENDOR_METERS = `
ALTER TABLE vendors ADD COLUMN meters TEXT;
ALTER TABLE vendors ADD COLUMN meter_pattern TEXT;
ALTER TABLE vendors ADD COLUMN any_meter INTEGER NOT NULL DEFAULT 0;
`;

/**
 * The anomaly ledger's review: a held reading is released into the billing ledger or rejected, by
 * an operator with a note, once. The decision's columns are written with it; a decided hold never
 * changes again, and the audit chain records every decision (audit verify checks the two agree).
 */
const ANOMALY_DECISIONS = `
ALTER TABLE anomalies ADD COLUMN actor TEXT;
ALTER TABLE anomalies ADD COLUMN note TEXT;
ALTER TABLE anomalies ADD COLUMN decided_at_ms INTEGER;
ALTER TABLE anomalies ADD COLUMN resolved_batch_id INTEGER;
CREATE INDEX anomalies_status ON anomalies (status, id);
CREATE TRIGGER anomalies_status_known BEFORE UPDATE ON anomalies
WHEN NEW.status NOT IN ('held', 'released', 'rejected')
BEGIN SELECT RAISE(ABORT, 'an anomaly hold is held, released or rejected'); END;
CREATE TRIGGER anomalies_decision_final BEFORE UPDATE ON anomalies
WHEN OLD.status <> 'held'
BEGIN SELECT RAISE(ABORT, 'a decided anomaly hold cannot change'); END;
`;

/**
 * Each stream's detector statistics: one compact versioned blob per stream (its layout is
 * src/core/stream-profile.ts), replaced in the transaction of every batch that teaches it.
 */
const STREAM_STATISTICS = `
CREATE TABLE stream_statistics (
  meter_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  layout INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (meter_id, channel)
) STRICT, WITHOUT ROWID;
`;

/**
 * Detector statistics move to a rowid table. A WITHOUT ROWID table keeps at most about 1,000 bytes
 * of a row in its page and spills the rest into overflow pages, so every stream a batch touched
 * cost its page and an overflow page; here three compact profiles (src/core/stream-profile.ts,
 * layout 2) share a page. The rows are not copied: layout 1 profiles are read as empty anyway, and
 * detectors re-learn each stream (warm-up repeats once). They are statistics, not evidence: no
 * audit entry covers them.
 */
const STREAM_STATISTICS_ROWID = `
DROP TABLE stream_statistics;
CREATE TABLE stream_statistics (
  meter_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  layout INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  UNIQUE (meter_id, channel)
) STRICT;
`;

/**
 * Detector statistics in parts (src/core/stream-profile.ts, layout 3): a head of 248 bytes that
 * every batch rewrites stays in stream_statistics; each local weekday's 24 hour cells (120 bytes)
 * become a row of their own, keyed part first, so that a batch rewrites the parts of the days it
 * carries, side by side, instead of every touched stream's whole 1,088 bytes. Stored layout-2
 * blobs are split here, byte for byte (the same figures in another order: the head's float64
 * layout slot becomes 3; a day whose 24 counts are all zero has no samples and gets no row). Any
 * other row is a stream whose statistics start again, as they would have before.
 */
const STREAM_STATISTICS_PARTS = `
CREATE TABLE stream_statistics_parts (
  part INTEGER NOT NULL,
  meter_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (part, meter_id, channel)
) STRICT, WITHOUT ROWID;
DELETE FROM stream_statistics WHERE layout <> 2 OR length(bytes) <> 1088;
WITH RECURSIVE days(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM days WHERE d < 6)
INSERT INTO stream_statistics_parts (part, meter_id, channel, bytes)
SELECT d, meter_id, channel, substr(bytes, 121 + 24 * d, 24) || substr(bytes, 289 + 96 * d, 96)
FROM days CROSS JOIN stream_statistics
WHERE substr(bytes, 121 + 24 * d, 24) <> zeroblob(24)
ORDER BY d, meter_id, channel;
UPDATE stream_statistics
SET layout = 3, bytes = x'0000000000000840' || substr(bytes, 9, 112) || substr(bytes, 961, 128);
`;

/**
 * The dead-letter queue: a delivery (or a page request) that could not be processed after its
 * attempts, with each attempt's error and timing. Its bytes are the raw chunks of the delivery row
 * that records it, content-addressed and append-only like any delivery's; the row's evidence never
 * changes, and its status moves once from open to an operator's decision (replayed or discarded),
 * with the audit entry that records it.
 */
const DEAD_LETTERS = `
CREATE TABLE dead_letters (
  id INTEGER PRIMARY KEY,
  source_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  transport_id TEXT,
  name TEXT NOT NULL,
  format TEXT NOT NULL,
  format_context TEXT NOT NULL,
  raw_sha256 TEXT,
  size_bytes INTEGER,
  bytes_complete INTEGER NOT NULL CHECK (bytes_complete IN (0, 1)),
  request TEXT,
  attempts TEXT NOT NULL,
  cause TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  audit_seq INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),
  actor TEXT,
  justification TEXT,
  decided_at_ms INTEGER,
  resolved_delivery_id TEXT,
  decision_audit_seq INTEGER,
  CHECK ((raw_sha256 IS NULL) = (size_bytes IS NULL)),
  CHECK (raw_sha256 IS NOT NULL OR request IS NOT NULL)
) STRICT;
CREATE INDEX dead_letters_status ON dead_letters (status, id);
CREATE INDEX dead_letters_source ON dead_letters (source_id, id);
CREATE TRIGGER dead_letters_no_delete BEFORE DELETE ON dead_letters
BEGIN SELECT RAISE(ABORT, 'dead letters are never deleted'); END;
CREATE TRIGGER dead_letters_evidence_fixed BEFORE UPDATE ON dead_letters
WHEN NEW.id IS NOT OLD.id OR NEW.source_id IS NOT OLD.source_id
  OR NEW.delivery_id IS NOT OLD.delivery_id OR NEW.transport_id IS NOT OLD.transport_id
  OR NEW.name IS NOT OLD.name OR NEW.format IS NOT OLD.format
  OR NEW.format_context IS NOT OLD.format_context OR NEW.raw_sha256 IS NOT OLD.raw_sha256
  OR NEW.size_bytes IS NOT OLD.size_bytes OR NEW.bytes_complete IS NOT OLD.bytes_complete
  OR NEW.request IS NOT OLD.request OR NEW.attempts IS NOT OLD.attempts
  OR NEW.cause IS NOT OLD.cause OR NEW.created_at_ms IS NOT OLD.created_at_ms
  OR NEW.audit_seq IS NOT OLD.audit_seq
BEGIN SELECT RAISE(ABORT, 'dead-letter evidence cannot be changed; only its status'); END;
CREATE TRIGGER dead_letters_decision_final BEFORE UPDATE ON dead_letters
WHEN OLD.status <> 'open'
BEGIN SELECT RAISE(ABORT, 'a decided dead letter cannot change'); END;
`;

/**
 * Emergency pauses and resumes, global (`source_id` NULL) or of one source: append-only, the
 * latest row of a scope is in force, and each row names the audit entry written with it (audit
 * verify checks the two agree).
 */
const CONTROLS = `
CREATE TABLE controls (
  id INTEGER PRIMARY KEY,
  source_id TEXT,
  paused INTEGER NOT NULL CHECK (paused IN (0, 1)),
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  audit_seq INTEGER NOT NULL UNIQUE
) STRICT;
CREATE INDEX controls_scope ON controls (source_id, id);
${appendOnly('controls')}
`;

/**
 * Circuit breakers, one row per endpoint: the breaker's state as JSON (its own snapshot format,
 * src/resilience/breaker.ts) and when it last changed, so a restart while open stays open. Each
 * transition is also an audit entry (`breaker.transition`), written in the same transaction.
 */
const BREAKERS = `
CREATE TABLE breakers (
  endpoint TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
  snapshot TEXT NOT NULL,
  changed_at_ms INTEGER NOT NULL,
  audit_seq INTEGER
) STRICT;
`;

/**
 * Tokens of the HTTP API and dashboard (`amisync tokens add`): a name, a role, the public token id
 * and the sha256 of the whole token; never the token itself.
 */
const API_TOKENS = `
CREATE TABLE api_tokens (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'auditor', 'admin')),
  token_id TEXT NOT NULL UNIQUE,
  token_sha256 TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
) STRICT;
CREATE TRIGGER api_tokens_no_delete BEFORE DELETE ON api_tokens
BEGIN SELECT RAISE(ABORT, 'api tokens cannot be deleted; revoke them'); END;
`;

/**
 * Billing: URDB tariffs (canonical JSON and its sha256), meter assignments (account, service point,
 * meter, tariff, time zone, from, to) and invoices with what each was computed from. All three are
 * append-only: a re-bill is a new adjustment invoice, never a changed one.
 */
const BILLING = `
CREATE TABLE tariffs (
  id INTEGER PRIMARY KEY,
  label TEXT NOT NULL,
  name TEXT NOT NULL,
  utility TEXT NOT NULL,
  json TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  start_ms INTEGER,
  end_ms INTEGER,
  imported_at_ms INTEGER NOT NULL,
  audit_seq INTEGER NOT NULL
) STRICT;
${appendOnly('tariffs')}

CREATE TABLE meter_assignments (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  service_point_id TEXT NOT NULL,
  meter_id TEXT NOT NULL,
  tariff TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  from_ms INTEGER NOT NULL,
  to_ms INTEGER,
  imported_at_ms INTEGER NOT NULL,
  audit_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX meter_assignments_account ON meter_assignments (account_id, service_point_id);
${appendOnly('meter_assignments')}

CREATE TABLE invoices (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  period TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('invoice', 'adjustment')),
  total_cents INTEGER NOT NULL,
  lines TEXT NOT NULL,
  basis TEXT NOT NULL,
  ledger_row_id_max INTEGER NOT NULL,
  ledger_digest TEXT NOT NULL,
  ledger_rows INTEGER NOT NULL,
  audit_head_seq INTEGER NOT NULL,
  audit_head_hash TEXT NOT NULL,
  override TEXT,
  created_at_ms INTEGER NOT NULL,
  audit_seq INTEGER NOT NULL UNIQUE
) STRICT;
CREATE INDEX invoices_account_period ON invoices (account_id, period, id);
${appendOnly('invoices')}
`;

/**
 * One row per alerted SLA breach (source, local day, target window): the primary key is what
 * keeps a breach from being alerted twice, by the report command or by the service.
 */
const SLA_ALERTS = `
CREATE TABLE sla_alerts (
  source_id TEXT NOT NULL,
  day TEXT NOT NULL,
  within_ms INTEGER NOT NULL,
  share_milli_percent INTEGER NOT NULL,
  expected INTEGER NOT NULL,
  received_within INTEGER NOT NULL,
  alerted_at_ms INTEGER NOT NULL,
  PRIMARY KEY (source_id, day, within_ms)
) STRICT, WITHOUT ROWID;
${appendOnly('sla_alerts')}
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial ledger, quarantine, audit', sql: INITIAL_SCHEMA },
  { version: 2, name: 'anomaly holds keep their evidence', sql: ANOMALY_EVIDENCE_FIXED },
  {
    version: 3,
    name: 'anomaly holds found by batch, for their Merkle root',
    sql: 'CREATE INDEX anomalies_batch ON anomalies (batch_id, batch_position);',
  },
  { version: 4, name: 'commodity, unit, quality detail', sql: UNITS_AND_QUALITY_DETAIL },
  { version: 5, name: 'quarantine repeats', sql: QUARANTINE_REPEATS },
  {
    version: 6,
    name: 'delivery owners, interruptions and redeliveries',
    sql: DELIVERY_OWNERS_AND_INTERRUPTIONS,
  },
  { version: 7, name: 'transport ids, source positions, vendors', sql: TRANSPORTS },
  { version: 8, name: 'the meters each vendor may push', sql: VENDOR_METERS },
  { version: 9, name: 'anomaly decisions: release or reject', sql: ANOMALY_DECISIONS },
  { version: 10, name: 'detector statistics per stream', sql: STREAM_STATISTICS },
  { version: 11, name: 'dead letters: replay or discard', sql: DEAD_LETTERS },
  { version: 12, name: 'emergency pauses and resumes', sql: CONTROLS },
  { version: 13, name: 'circuit breaker states', sql: BREAKERS },
  {
    version: 14,
    name: 'detector statistics in a rowid table, three to a page',
    sql: STREAM_STATISTICS_ROWID,
  },
  {
    version: 15,
    name: 'anomaly holds found by idempotency key, so a retransmission is not billed',
    sql: `CREATE INDEX anomalies_key ON anomalies (json_extract(reading, '$.idempotencyKey'));`,
  },
  { version: 16, name: 'API and dashboard tokens', sql: API_TOKENS },
  { version: 17, name: 'billing: tariffs, meter assignments, invoices', sql: BILLING },
  {
    version: 18,
    name: 'detector statistics in parts: a head, and a row per weekday of hour cells',
    sql: STREAM_STATISTICS_PARTS,
  },
  {
    version: 19,
    name: 'register (AMR) reads: meter register digits and multiplier, reads by meter',
    sql: `ALTER TABLE meter_assignments ADD COLUMN register_digits INTEGER;
ALTER TABLE meter_assignments ADD COLUMN multiplier INTEGER NOT NULL DEFAULT 1;
CREATE INDEX ledger_register_reads ON ledger (meter_id, channel, interval_start_ms)
  WHERE interval_seconds = 0;`,
  },
  { version: 20, name: 'vendor SLA breaches alerted', sql: SLA_ALERTS },
  {
    version: 21,
    name: "interval reads by meter: a stream's series is one range of one index",
    // Covering (value, quality and the partial condition's column are in it), so a series never
    // visits the table; partial, so only queries that say `interval_seconds > 0` use it and the
    // plans of the time-ordered reads stay as they were.
    sql: `CREATE INDEX ledger_stream ON ledger (meter_id, channel, interval_start_ms, version,
  value_micro, quality, interval_seconds) WHERE interval_seconds > 0;`,
  },
  {
    version: 22,
    name: 'ledger rows by meter, for bill verify and bill prove',
    sql: 'CREATE INDEX ledger_by_meter ON ledger (meter_id, interval_start_ms);',
  },
  {
    version: 23,
    name: "operations pages: quarantine items by meter, a source's deliveries in order",
    sql: `CREATE INDEX quarantine_meter ON quarantine (meter_id, id) WHERE meter_id IS NOT NULL;
CREATE INDEX deliveries_source ON deliveries (source_id);`,
  },
  {
    version: 24,
    name: 'one meter-first ledger index for series, meter pages and billing, covering the series',
    // Every meter-first index costs each batch a leaf page per meter it touches: two of them
    // (ledger_stream, ledger_by_meter) doubled ingest's CPU and wrote seven times the bytes. One
    // index in (meter, interval start) order serves billing's and the meter page's ranges, and
    // carries the series' columns so a series never visits the table.
    sql: `DROP INDEX ledger_stream;
DROP INDEX ledger_by_meter;
CREATE INDEX ledger_by_meter ON ledger (meter_id, interval_start_ms, channel, version,
  value_micro, quality, interval_seconds);`,
  },
  {
    version: 25,
    name: "anomaly holds by meter: a meter's holds without reading every hold's JSON",
    sql: `CREATE INDEX anomalies_meter ON anomalies (json_extract(reading, '$.meterId'), id);`,
  },
];
