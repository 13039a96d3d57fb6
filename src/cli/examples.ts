/**
 * An example for every command that does not print its own, shown under `--help`. Keyed by the
 * command's path below `amisync`; src/cli/help.cli.test.ts checks that every command ends up with
 * one, so a new command adds its line here (or its own addHelpText) with it.
 */
import type { Command } from 'commander';

const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  ingest: [
    'amisync ingest ./drop/2026-10-01.ndjson --db ./amisync.db',
    'amisync ingest ./nem12/*.csv --format nem12 --source vendor-a --json',
  ],
  'config check': ['amisync config check --config ./amisync.yaml'],
  status: ['amisync status --db ./amisync.db --json'],
  'quarantine list': ['amisync quarantine list --status open --code consumption.range --limit 20'],
  'quarantine replay': [
    'amisync quarantine replay 42 --dictionary ./dictionary.json',
    'amisync quarantine replay --all --actor billing-ops',
  ],
  'quarantine accept': [
    'amisync quarantine accept 42 --justification "meter multiplier confirmed by field crew"',
  ],
  'quarantine reject': [
    'amisync quarantine reject 42 --justification "test meter, not a customer premise"',
  ],
  'ledger export': ['amisync ledger export --format csv --output ./ledger.csv'],
  'audit verify': ['amisync audit verify --public-key ./checkpoint-public.pem --json'],
  'audit prove': ['amisync audit prove 3f5a...c2 --public-key ./checkpoint-public.pem'],
  'audit export': ['amisync audit export --out ./audit-2026-10'],
  'audit public-key': ['amisync audit public-key > ./checkpoint-public.pem'],
  demo: ['amisync demo --dir ./demo-output --meters 50 --days 3'],
  'simulate rest': [
    'amisync simulate rest --port 8900 --meters 20 --days 2 --error-rate 0.05 \\',
    '  --truth ./truth.json --config-out ./amisync.yaml',
  ],
  'simulate push': [
    'amisync simulate push --url http://127.0.0.1:8080/v1/readings --key-file ./vendor.key \\',
    '  --meters 20 --retransmit-rate 0.02 --truth ./truth.json',
  ],
  'simulate drop': [
    'amisync simulate drop --dir ./drop --files 12 --bad-rate 0.01 --truth ./truth.json',
  ],
  'simulate sftp': [
    'amisync simulate sftp --host sftp.vendor.example --user amisync --key ./id_ed25519 \\',
    '  --host-key-sha256 SHA256:... --remote-dir /outbound --truth ./truth.json',
  ],
  'simulate labelled': ['amisync simulate labelled --seed 1 --meters 24 --days 35 --out ./vee'],
  'simulate score': ['amisync simulate score --labels ./vee/labels.json --db ./vee.db'],
  'vendors add': ['amisync vendors add vendor-a --meter-pattern "^MTR-A[0-9A-Z]{7}$"'],
  'vendors list': ['amisync vendors list --json'],
  'vendors revoke': ['amisync vendors revoke vendor-a'],
  'anomalies list': ['amisync anomalies list --status held --detector zscore --from 2026-10-01'],
  'anomalies show': ['amisync anomalies show 17 --json'],
  'gaps list': ['amisync gaps list --from 2026-10-01 --to 2026-11-01 --meter MTR-A1B2C3D4'],
  'dead-letters list': ['amisync dead-letters list --status open --source vendor-a'],
  'dead-letters show': ['amisync dead-letters show 3'],
  'dead-letters replay': [
    'amisync dead-letters replay 3 --justification "vendor fixed the page that failed"',
  ],
  resume: ['amisync resume --source vendor-a --reason "vendor confirmed the fix"'],
  breakers: ['amisync breakers --db ./amisync.db --json'],
  'tariffs list': ['amisync tariffs list --json'],
  'accounts list': ['amisync accounts list --db ./amisync.db'],
  'accounts show': ['amisync accounts show ACCT-1001 --json'],
  'bill list': ['amisync bill list --period 2026-10 --account ACCT-1001'],
  'bill prove': [
    'amisync bill prove 12 --out ./proof-12 && node scripts/check-bill-proof.mjs ./proof-12',
  ],
  'bill show': ['amisync bill show 12 --format html --out invoice-12.html --db ./amisync.db'],
  'report sla': [
    'amisync report sla --period 2026-10 --config ./amisync.yaml --format html --out sla.html',
    'amisync report sla --period 2026-10 --config ./amisync.yaml --source vendor-a --json',
  ],
  'ledger show': [
    'amisync ledger show --meter MTR-A1B2C3D4 --from 2026-10-01 --to 2026-10-08 --limit 200',
    'amisync ledger show --meter MTR-A1B2C3D4 --channel 1 --cursor MTc3... --json',
  ],
  'ledger versions': [
    'amisync ledger versions --meter MTR-A1B2C3D4 --channel 1 --start 2026-10-01T06:00:00Z',
  ],
  'deliveries list': ['amisync deliveries list --source vendor-a --limit 20 --json'],
  'deliveries show': ['amisync deliveries show dlv_00000000000000000042'],
  'audit checkpoints': ['amisync audit checkpoints --limit 5 --json'],
  run: [
    'amisync run --config amisync.yaml --once',
    'amisync run --config workers.yaml --workers 4 --signing-key key.pem   # 4 processes',
  ],
  'simulate publish': [
    'amisync simulate publish --to mqtt://127.0.0.1:1883 --subject meters/readings \\',
    '  --meters 50 --days 2 --poison-rate 0.01 --repeat-rate 0.02 --truth truth.json',
    'amisync simulate publish --to nats://127.0.0.1:4222 --stream READINGS --subject readings \\',
    '  --partitions 16 --meters 500 --truth truth.json   # to readings.p0 .. readings.p15',
  ],
};

/** Adds each listed command's example under its help. */
export function addExamples(program: Command): void {
  const visit = (command: Command, path: string): void => {
    const lines = EXAMPLES[path];
    if (lines !== undefined) {
      command.addHelpText('after', `\nExample:\n${lines.map((line) => `  ${line}`).join('\n')}`);
    }
    for (const sub of command.commands) {
      visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
    }
  };
  visit(program, '');
}
