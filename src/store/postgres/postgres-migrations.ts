/**
 * Versioned schema for the PostgreSQL store: the same tables, columns and append-only rules as the
 * SQLite store (src/store/sqlite/migrations.ts), written once in their final shape, so that a
 * reader of one engine knows where everything is in the other. Migrations only ever append.
 *
 * Engine choices:
 * - Every quantity is an integer type (bigint): PostgreSQL integers hold no NaN and no infinity,
 *   and the one float-shaped value stored as data (a held reading, json) is CHECKed to carry an
 *   integer `valueMicro`. Held readings and findings are json, not jsonb: their Merkle leaves
 *   are made of the text as written, which jsonb would reorder.
 * - The ledger is partitioned by month of interval start (native range partitioning on
 *   interval_start_ms); partitions are created by the writer on first use (postgres-ledger.ts).
 * - Append-only tables refuse UPDATE, DELETE and TRUNCATE in triggers, and the writer role
 *   (amisync_writer) holds no DELETE or TRUNCATE privilege and UPDATE only where a row's status may
 *   move. A superuser can still disable triggers: `audit verify` is what detects that.
 */

export interface PostgresMigration {
  version: number;
  name: string;
  sql: string;
}

/** The role amisync writes with: granted what the pipeline needs and nothing more. */
export const WRITER_ROLE = 'amisync_writer';

/** Tables whose rows never change: UPDATE, DELETE and TRUNCATE refused. */
const APPEND_ONLY_TABLES = [
  'raw_chunks',
  'delivery_chunks',
  'ledger',
  'batches',
  'audit_log',
  'checkpoints',
  'sequence_events',
  'quarantine_actions',
  'quarantine_repeats',
  'delivery_interruptions',
  'controls',
  'sla_alerts',
] as const;

/** Tables whose rows may change some columns (status, decision, running totals), never go away. */
const NEVER_DELETED: readonly (readonly [string, string])[] = [
  ['deliveries', 'deliveries cannot be deleted'],
  ['quarantine', 'quarantine rows are never deleted'],
  ['anomalies', 'anomaly holds are never deleted'],
  ['dead_letters', 'dead letters are never deleted'],
  ['api_tokens', 'api tokens are never deleted'],
];

/** Tables the writer may UPDATE: status moves, running totals, upserted state. */
const WRITER_UPDATABLE = [
  'deliveries',
  'quarantine',
  'anomalies',
  'dead_letters',
  'stream_state',
  'stream_statistics',
  'stream_statistics_parts',
  'source_positions',
  'breakers',
  'vendors',
  'api_tokens',
] as const;

function appendOnly(table: string): string {
  return `
CREATE TRIGGER ${table}_no_update BEFORE UPDATE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION amisync_refuse('${table} is append-only: rows cannot be updated');
CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION amisync_refuse('${table} is append-only: rows cannot be deleted');
CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION amisync_refuse('${table} is append-only: it cannot be truncated');`;
}

function neverDeleted(table: string, message: string): string {
  return `
CREATE TRIGGER ${table}_no_delete BEFORE DELETE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION amisync_refuse('${message}');
CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION amisync_refuse('${message}');`;
}

/** A trigger refusing an UPDATE that changes any of `columns`, or any once `final` holds. */
function evidenceFixed(
  table: string,
  columns: readonly string[],
  evidenceMessage: string,
  final: { when: string; message: string } | null,
  /** Replace the function of an earlier migration, whose trigger stays. */
  options: { replace: boolean } = { replace: false },
): string {
  const changed = columns.map((column) => `NEW.${column} IS DISTINCT FROM OLD.${column}`);
  const finalCheck =
    final === null
      ? ''
      : `IF ${final.when} THEN RAISE EXCEPTION '${final.message}' USING ERRCODE = 'P0001'; END IF;`;
  const create = options.replace ? 'CREATE OR REPLACE FUNCTION' : 'CREATE FUNCTION';
  const trigger = options.replace
    ? ''
    : `
CREATE TRIGGER ${table}_evidence_fixed BEFORE UPDATE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION ${table}_evidence_fixed();`;
  return `
${create} ${table}_evidence_fixed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  ${finalCheck}
  IF ${changed.join(' OR ')} THEN
    RAISE EXCEPTION '${evidenceMessage}' USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END $fn$;${trigger}`;
}

const REFUSE_FUNCTION = `
CREATE FUNCTION amisync_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'P0001';
END $fn$;`;

const TABLES = `
CREATE TABLE deliveries (
  id text PRIMARY KEY,
  source_id text NOT NULL,
  name text NOT NULL,
  format text NOT NULL,
  format_context text NOT NULL,
  started_at_ms bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('in-progress', 'complete')),
  sha256 text,
  size_bytes bigint,
  finished_at_ms bigint,
  received bigint NOT NULL DEFAULT 0,
  accepted bigint NOT NULL DEFAULT 0,
  duplicates bigint NOT NULL DEFAULT 0,
  quarantined bigint NOT NULL DEFAULT 0,
  conflicts bigint NOT NULL DEFAULT 0,
  anomaly_held bigint NOT NULL DEFAULT 0,
  dead_lettered bigint NOT NULL DEFAULT 0,
  revisions bigint NOT NULL DEFAULT 0,
  owner_host text,
  owner_pid integer,
  owner_started_at_ms bigint,
  redelivers text,
  transport_id text,
  first_delivery_id text,
  attempt integer NOT NULL DEFAULT 1,
  metadata text NOT NULL DEFAULT '{}',
  partition_key text,
  position text
);
CREATE INDEX deliveries_redelivers ON deliveries (redelivers) WHERE redelivers IS NOT NULL;
CREATE INDEX deliveries_transport ON deliveries (source_id, transport_id)
  WHERE transport_id IS NOT NULL;
CREATE INDEX deliveries_unfinished ON deliveries (status) WHERE status = 'in-progress';

CREATE TABLE delivery_interruptions (
  delivery_id text PRIMARY KEY,
  at_ms bigint NOT NULL,
  audit_seq bigint NOT NULL
);

CREATE TABLE raw_chunks (
  sha256 text PRIMARY KEY,
  bytes bytea NOT NULL
);

CREATE TABLE delivery_chunks (
  delivery_id text NOT NULL,
  byte_offset bigint NOT NULL,
  byte_length bigint NOT NULL,
  chunk_sha256 text NOT NULL,
  PRIMARY KEY (delivery_id, byte_offset)
);

CREATE SEQUENCE ledger_id_seq AS bigint;
CREATE TABLE ledger (
  id bigint NOT NULL DEFAULT nextval('ledger_id_seq'),
  interval_start_ms bigint NOT NULL,
  meter_id text NOT NULL,
  channel text NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  seq bigint NOT NULL,
  interval_seconds integer NOT NULL CHECK (interval_seconds >= 0),
  value_micro bigint NOT NULL,
  status_code integer NOT NULL,
  quality text NOT NULL,
  checksum_sha256 text,
  idempotency_key text NOT NULL,
  supersedes_key text,
  batch_id bigint NOT NULL,
  batch_position integer NOT NULL,
  commodity text NOT NULL,
  unit text NOT NULL,
  quality_detail text,
  UNIQUE (interval_start_ms, meter_id, channel, version)
) PARTITION BY RANGE (interval_start_ms);
ALTER SEQUENCE ledger_id_seq OWNED BY ledger.id;
CREATE INDEX ledger_batch ON ledger (batch_id, batch_position);
CREATE INDEX ledger_register_reads ON ledger (meter_id, channel, interval_start_ms)
  WHERE interval_seconds = 0;

CREATE TABLE batches (
  id bigint PRIMARY KEY,
  delivery_id text NOT NULL,
  source_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('ingest', 'replay', 'override')),
  received bigint NOT NULL,
  accepted bigint NOT NULL,
  duplicates bigint NOT NULL,
  quarantined bigint NOT NULL,
  conflicts bigint NOT NULL,
  anomaly_held bigint NOT NULL,
  dead_lettered bigint NOT NULL,
  revisions bigint NOT NULL,
  ledger_root text NOT NULL,
  quarantine_root text NOT NULL,
  byte_offset bigint NOT NULL,
  byte_length bigint NOT NULL,
  committed_at_ms bigint NOT NULL,
  audit_seq bigint NOT NULL,
  CHECK (received = accepted + duplicates + quarantined + anomaly_held + dead_lettered)
);
CREATE INDEX batches_delivery ON batches (delivery_id);

CREATE TABLE audit_log (
  seq bigint PRIMARY KEY,
  at_ms bigint NOT NULL,
  kind text NOT NULL,
  payload text NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);

CREATE TABLE checkpoints (
  id bigserial PRIMARY KEY,
  audit_seq bigint NOT NULL,
  head_hash text NOT NULL,
  at_ms bigint NOT NULL,
  key_fingerprint text NOT NULL,
  signature text NOT NULL
);

CREATE TABLE quarantine (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL,
  batch_id bigint NOT NULL,
  batch_position integer NOT NULL,
  record_index bigint NOT NULL,
  line bigint NOT NULL,
  byte_offset bigint NOT NULL,
  byte_length bigint NOT NULL,
  violations text NOT NULL,
  first_code text NOT NULL,
  meter_id text,
  idempotency_key text,
  related_idempotency_key text,
  uncounted_span smallint NOT NULL CHECK (uncounted_span IN (0, 1)),
  raw_sha256 text NOT NULL,
  format text NOT NULL,
  created_at_ms bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('open', 'replayed', 'accepted', 'rejected')),
  current_violations text NOT NULL,
  resolved_batch_id bigint
);
CREATE INDEX quarantine_batch ON quarantine (batch_id);
CREATE INDEX quarantine_open_raw ON quarantine (raw_sha256) WHERE status = 'open';
CREATE INDEX quarantine_status ON quarantine (status, id);

CREATE TABLE quarantine_actions (
  id bigserial PRIMARY KEY,
  quarantine_id bigint NOT NULL,
  action text NOT NULL,
  outcome text NOT NULL,
  actor text NOT NULL,
  justification text NOT NULL,
  violations text NOT NULL,
  batch_id bigint,
  at_ms bigint NOT NULL
);
CREATE INDEX quarantine_actions_item ON quarantine_actions (quarantine_id);

CREATE TABLE quarantine_repeats (
  id bigserial PRIMARY KEY,
  quarantine_id bigint NOT NULL,
  delivery_id text NOT NULL,
  batch_id bigint NOT NULL,
  batch_position integer NOT NULL,
  record_index bigint NOT NULL,
  line bigint NOT NULL,
  byte_offset bigint NOT NULL,
  byte_length bigint NOT NULL,
  raw_sha256 text NOT NULL,
  created_at_ms bigint NOT NULL
);
CREATE INDEX quarantine_repeats_batch ON quarantine_repeats (batch_id, batch_position);
CREATE INDEX quarantine_repeats_item ON quarantine_repeats (quarantine_id);

CREATE TABLE anomalies (
  id bigserial PRIMARY KEY,
  batch_id bigint NOT NULL,
  batch_position integer NOT NULL,
  reading jsonb NOT NULL CHECK (
    NOT (reading ? 'valueMicro')
    OR (jsonb_typeof(reading -> 'valueMicro') = 'number'
      AND (reading ->> 'valueMicro') ~ '^-?[0-9]+$')),
  findings jsonb NOT NULL,
  status text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'released', 'rejected')),
  actor text,
  note text,
  decided_at_ms bigint,
  resolved_batch_id bigint
);
CREATE INDEX anomalies_batch ON anomalies (batch_id, batch_position);
CREATE INDEX anomalies_key ON anomalies ((reading ->> 'idempotencyKey'));
CREATE INDEX anomalies_status ON anomalies (status, id);

CREATE TABLE sequence_events (
  id bigserial PRIMARY KEY,
  meter_id text NOT NULL,
  channel text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('gap', 'regression')),
  expected_seq bigint NOT NULL,
  received_seq bigint NOT NULL,
  interval_start_ms bigint NOT NULL,
  batch_id bigint NOT NULL
);

CREATE TABLE stream_state (
  meter_id text NOT NULL,
  channel text NOT NULL,
  last_interval_start_ms bigint,
  last_seq bigint,
  seq_gaps bigint NOT NULL,
  seq_regressions bigint NOT NULL,
  current_readings bigint NOT NULL,
  current_value_micro bigint NOT NULL,
  commodity text NOT NULL,
  unit text NOT NULL,
  PRIMARY KEY (meter_id, channel)
);

CREATE TABLE stream_statistics (
  meter_id text NOT NULL,
  channel text NOT NULL,
  layout integer NOT NULL,
  bytes bytea NOT NULL,
  PRIMARY KEY (meter_id, channel)
);

CREATE TABLE stream_statistics_parts (
  part integer NOT NULL,
  meter_id text NOT NULL,
  channel text NOT NULL,
  bytes bytea NOT NULL,
  PRIMARY KEY (part, meter_id, channel)
);

CREATE TABLE source_positions (
  source_id text PRIMARY KEY,
  position text NOT NULL,
  delivery_id text NOT NULL,
  saved_at_ms bigint NOT NULL
);

CREATE TABLE dead_letters (
  id bigserial PRIMARY KEY,
  source_id text NOT NULL,
  delivery_id text NOT NULL,
  transport_id text,
  name text NOT NULL,
  format text NOT NULL,
  format_context text NOT NULL,
  raw_sha256 text,
  size_bytes bigint,
  bytes_complete smallint NOT NULL CHECK (bytes_complete IN (0, 1)),
  request text,
  attempts text NOT NULL,
  cause text NOT NULL,
  created_at_ms bigint NOT NULL,
  audit_seq bigint NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),
  actor text,
  justification text,
  decided_at_ms bigint,
  resolved_delivery_id text,
  decision_audit_seq bigint,
  CHECK ((raw_sha256 IS NULL) = (size_bytes IS NULL)),
  CHECK (raw_sha256 IS NOT NULL OR request IS NOT NULL)
);
CREATE INDEX dead_letters_source ON dead_letters (source_id, id);
CREATE INDEX dead_letters_status ON dead_letters (status, id);

CREATE TABLE controls (
  id bigserial PRIMARY KEY,
  source_id text,
  paused smallint NOT NULL CHECK (paused IN (0, 1)),
  reason text NOT NULL,
  actor text NOT NULL,
  at_ms bigint NOT NULL,
  audit_seq bigint NOT NULL UNIQUE
);
CREATE INDEX controls_scope ON controls (source_id, id);

CREATE TABLE breakers (
  endpoint text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('closed', 'open', 'half-open')),
  snapshot text NOT NULL,
  changed_at_ms bigint NOT NULL,
  audit_seq bigint
);

CREATE TABLE vendors (
  name text PRIMARY KEY,
  key_id text NOT NULL UNIQUE,
  key_sha256 text NOT NULL,
  created_at_ms bigint NOT NULL,
  revoked_at_ms bigint,
  meters text,
  meter_pattern text,
  any_meter smallint NOT NULL DEFAULT 0 CHECK (any_meter IN (0, 1))
);

CREATE TABLE api_tokens (
  name text PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('viewer', 'operator', 'auditor', 'admin')),
  token_id text NOT NULL UNIQUE,
  token_sha256 text NOT NULL,
  created_at_ms bigint NOT NULL,
  revoked_at_ms bigint
);

CREATE TABLE sla_alerts (
  source_id text NOT NULL,
  day text NOT NULL,
  within_ms bigint NOT NULL,
  share_milli_percent bigint NOT NULL,
  expected bigint NOT NULL,
  received_within bigint NOT NULL,
  alerted_at_ms bigint NOT NULL,
  PRIMARY KEY (source_id, day, within_ms)
);`;

const EVIDENCE_RULES = [
  evidenceFixed(
    'quarantine',
    [
      'id',
      'delivery_id',
      'batch_id',
      'batch_position',
      'byte_offset',
      'byte_length',
      'violations',
      'raw_sha256',
      'idempotency_key',
      'created_at_ms',
    ],
    'quarantine evidence cannot be changed; only its status',
    null,
  ),
  evidenceFixed(
    'anomalies',
    ['id', 'batch_id', 'batch_position', 'reading', 'findings'],
    'anomaly evidence cannot be changed; only its status',
    { when: "OLD.status <> 'held'", message: 'a decided anomaly hold cannot change' },
  ),
  evidenceFixed(
    'dead_letters',
    [
      'id',
      'source_id',
      'delivery_id',
      'transport_id',
      'name',
      'format',
      'format_context',
      'raw_sha256',
      'size_bytes',
      'bytes_complete',
      'request',
      'attempts',
      'cause',
      'created_at_ms',
      'audit_seq',
    ],
    'dead-letter evidence cannot be changed; only its status',
    { when: "OLD.status <> 'open'", message: 'a decided dead letter cannot change' },
  ),
].join('\n');

/**
 * The writer role (cluster-wide, so created once and shared by every schema) and its grants on this
 * schema. Two stores migrating at once may both try to create it: the advisory lock of migrate()
 * covers that, and an existing role is kept.
 */
function writerGrants(): string {
  return `
DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${WRITER_ROLE}') THEN
    CREATE ROLE ${WRITER_ROLE} NOLOGIN;
  END IF;
END $do$;
GRANT USAGE ON SCHEMA ${'${schema}'} TO ${WRITER_ROLE};
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA ${'${schema}'} TO ${WRITER_ROLE};
GRANT UPDATE ON ${WRITER_UPDATABLE.join(', ')} TO ${WRITER_ROLE};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${'${schema}'} TO ${WRITER_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA ${'${schema}'}
  GRANT SELECT, INSERT ON TABLES TO ${WRITER_ROLE};`;
}

const INITIAL_SCHEMA = [
  REFUSE_FUNCTION,
  TABLES,
  ...APPEND_ONLY_TABLES.map(appendOnly),
  ...NEVER_DELETED.map(([table, message]) => neverDeleted(table, message)),
  EVIDENCE_RULES,
  writerGrants(),
].join('\n');

/**
 * The operations pages' reads: one meter's ledger rows in time order (the meter's own range of
 * each month's partition, never the whole ledger), a meter's quarantine items newest first, and
 * deliveries in creation order (an identity column: text ids carry no order), of all sources or
 * of one.
 */
const OPERATIONS_READS = `
CREATE INDEX ledger_by_meter ON ledger (meter_id, interval_start_ms, channel, version);
CREATE INDEX quarantine_meter ON quarantine (meter_id, id) WHERE meter_id IS NOT NULL;
ALTER TABLE deliveries ADD COLUMN page_position bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX deliveries_page ON deliveries (page_position);
CREATE INDEX deliveries_source_page ON deliveries (source_id, page_position);
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${'${schema}'} TO ${WRITER_ROLE};`;

/**
 * Several workers (docs/workers.md): the partition count fixed per deployment, the live workers and
 * the partition leases (times from the database clock), and the batch id sequence that partition
 * transactions allocate from instead of max(id) + 1.
 */
const WORKER_SCHEMA = `
CREATE TABLE worker_partitions (
  id smallint PRIMARY KEY CHECK (id = 1),
  partitions integer NOT NULL CHECK (partitions BETWEEN 1 AND 4096),
  set_at_ms bigint NOT NULL
);
CREATE TABLE workers (
  owner text PRIMARY KEY,
  started_at_ms bigint NOT NULL,
  expires_at_ms bigint NOT NULL
);
CREATE TABLE partition_leases (
  partition integer PRIMARY KEY CHECK (partition >= 0),
  owner text NOT NULL,
  generation bigint NOT NULL CHECK (generation >= 1),
  taken_at_ms bigint NOT NULL,
  expires_at_ms bigint NOT NULL
);
CREATE SEQUENCE batch_ids;
SELECT setval('batch_ids', (SELECT coalesce(max(id), 0) + 1 FROM batches), false);
GRANT SELECT, INSERT, UPDATE ON worker_partitions, workers, partition_leases TO ${WRITER_ROLE};
GRANT USAGE, SELECT, UPDATE ON SEQUENCE batch_ids TO ${WRITER_ROLE};`;

/**
 * Billing (docs/billing.md): URDB tariffs, meter assignments and invoices, the same columns and
 * CHECKs as the SQLite store's, all three append-only (a re-bill is a new adjustment invoice,
 * never a changed one). Money and energy are bigint; the JSON texts are text, since an invoice's
 * lines and basis are compared and hashed as written.
 */
const BILLING_SCHEMA = `
CREATE TABLE tariffs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  label text NOT NULL,
  name text NOT NULL,
  utility text NOT NULL,
  json text NOT NULL,
  sha256 text NOT NULL UNIQUE,
  start_ms bigint,
  end_ms bigint,
  imported_at_ms bigint NOT NULL,
  audit_seq bigint NOT NULL
);
CREATE TABLE meter_assignments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id text NOT NULL,
  service_point_id text NOT NULL,
  meter_id text NOT NULL,
  tariff text NOT NULL,
  time_zone text NOT NULL,
  from_ms bigint NOT NULL,
  to_ms bigint,
  imported_at_ms bigint NOT NULL,
  audit_seq bigint NOT NULL,
  register_digits integer,
  multiplier bigint NOT NULL DEFAULT 1
);
CREATE INDEX meter_assignments_account ON meter_assignments (account_id, service_point_id);
CREATE TABLE invoices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id text NOT NULL,
  period text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('invoice', 'adjustment')),
  total_cents bigint NOT NULL,
  lines text NOT NULL,
  basis text NOT NULL,
  ledger_row_id_max bigint NOT NULL,
  ledger_digest text NOT NULL,
  ledger_rows bigint NOT NULL,
  audit_head_seq bigint NOT NULL,
  audit_head_hash text NOT NULL,
  override text,
  created_at_ms bigint NOT NULL,
  audit_seq bigint NOT NULL UNIQUE
);
CREATE INDEX invoices_account_period ON invoices (account_id, period, id);
${['tariffs', 'meter_assignments', 'invoices'].map(appendOnly).join('\n')}
GRANT SELECT, INSERT ON tariffs, meter_assignments, invoices TO ${WRITER_ROLE};`;

/** `${schema}` in a migration's SQL is replaced by the quoted schema name it is applied to. */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'initial schema, append-only rules and the writer role',
    sql: INITIAL_SCHEMA,
  },
  {
    version: 2,
    name: 'anomaly holds keep the JSON text they were written with (json, not jsonb)',
    // jsonb reorders an object's keys, so a held reading read back no longer gave the bytes its
    // Merkle leaf was made of, and `audit verify` failed every batch with a hold. json keeps the
    // text as written; evidence is compared as text, since json has no equality.
    sql: `ALTER TABLE anomalies DROP CONSTRAINT anomalies_reading_check;
ALTER TABLE anomalies ALTER COLUMN reading TYPE json USING reading::json,
  ALTER COLUMN findings TYPE json USING findings::json;
ALTER TABLE anomalies ADD CONSTRAINT anomalies_reading_check CHECK (
  reading -> 'valueMicro' IS NULL
  OR (json_typeof(reading -> 'valueMicro') = 'number'
    AND (reading ->> 'valueMicro') ~ '^-?[0-9]+$'));
${evidenceFixed(
  'anomalies',
  ['id', 'batch_id', 'batch_position', 'reading::text', 'findings::text'],
  'anomaly evidence cannot be changed; only its status',
  { when: "OLD.status <> 'held'", message: 'a decided anomaly hold cannot change' },
  { replace: true },
)}`,
  },
  {
    version: 3,
    name: 'indexes and creation order for the operations pages',
    sql: OPERATIONS_READS,
  },
  {
    version: 4,
    name: 'worker partitions, leases and the batch id sequence',
    sql: WORKER_SCHEMA,
  },
  {
    version: 5,
    name: 'billing: tariffs, meter assignments, invoices',
    sql: BILLING_SCHEMA,
  },
  {
    version: 6,
    name: 'raw chunks compressed with lz4 where the server has it',
    // A delivery's raw bytes are the largest value every batch writes, and the server compresses
    // them: pglz (the default) cost about 3 us of server CPU per reading, lz4 about 1.9, for the
    // same stored size. A server built without lz4 keeps pglz. Values already stored stay as they
    // are; both read back the same.
    sql: `DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE raw_chunks ALTER COLUMN bytes SET COMPRESSION lz4;
  END IF;
END $$;`,
  },
];
