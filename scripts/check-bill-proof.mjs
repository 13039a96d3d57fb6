#!/usr/bin/env node
// Checks an invoice proof bundle written by `amisync bill prove INVOICE --out DIR`, without
// amisync: only node:crypto, node:fs and node:path, and the rules written in docs/billing.md
// ("Proof bundles") and src/audit/README.md. It checks, from the signature down to the meter:
//   1. the checkpoint's Ed25519 signature with the bundle's public key, and its key fingerprint;
//   2. the audit chain segment: every entry's hash recomputed, each linked to the one before, the
//      last one the signed head;
//   3. the invoice's own audit entry names this invoice's account, period, kind, total, ledger
//      digest and tariffs (sha256 of each tariff file);
//   4. every reading is a line of a Merkle leaf whose RFC 6962 path leads to the ledger root in
//      its batch's audit entry, and its idempotency key recomputes from its own fields;
//   5. the Merkle root over the readings used, and the ledger digest (their keys and versions);
//   6. the raw bytes of each batch's delivery range: their sha256 and length, each reading's meter
//      id among them;
//   7. the determinants and every invoice line recomputed from the readings and the tariffs
//      (exact integers, one rounding per line, half away from zero), and the total;
//   8. for a service point billed from register (AMR) reads: the register consumption recomputed
//      from the proven reads (differences, rollover at the meter's digits, multiplier, estimates
//      replaced by later actuals, proration to the period), each read and use the bundle states
//      compared with it, and the Merkle root over the reads used.
// Usage: node scripts/check-bill-proof.mjs DIR [--json]. Exit 0 when every check passes, 1 when
// any fails, 2 when the bundle cannot be read.
import { Buffer } from 'node:buffer';
import { createPublicKey, hash, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const sha256Hex = (data) => hash('sha256', data, 'hex');
const checks = [];
const check = (name, ok, detail = '') => {
  checks.push({ name, ok: Boolean(ok), detail });
  return Boolean(ok);
};

// ---- Merkle (RFC 6962 / RFC 9162 section 2.1.3.2) ----------------------------------------------

const leafHash = (text) =>
  hash('sha256', Buffer.concat([Buffer.of(0), Buffer.from(text, 'utf8')]), 'buffer');
const nodeHash = (left, right) =>
  hash('sha256', Buffer.concat([Buffer.of(1), left, right]), 'buffer');

function merkleRoot(leafHashes) {
  if (leafHashes.length === 0) return sha256Hex('');
  const mth = (from, to) => {
    if (to - from === 1) return leafHashes[from];
    let k = 1;
    while (k * 2 < to - from) k *= 2;
    return nodeHash(mth(from, from + k), mth(from + k, to));
  };
  return mth(0, leafHashes.length).toString('hex');
}

function verifyInclusion(leaf, index, treeSize, path, rootHex) {
  if (!(index >= 0 && index < treeSize)) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const hex of path) {
    if (sn === 0) return false;
    const p = Buffer.from(hex, 'hex');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.toString('hex') === rootHex.toLowerCase();
}

// ---- Audit chain and checkpoint (src/audit/README.md sections 2 and 4) -------------------------

const entryHash = (e) =>
  sha256Hex(`amisync-audit-v1\n${e.prevHash}\n${e.seq}\n${e.atMs}\n${e.kind}\n${e.payload}`);

function checkSignature(dir, bundle) {
  const pem = readFileSync(join(dir, bundle.publicKeyFile), 'utf8');
  const key = createPublicKey(pem);
  const der = key.export({ type: 'spki', format: 'der' });
  const c = bundle.checkpoint;
  check('checkpoint key fingerprint', sha256Hex(der).slice(0, 16) === c.keyFingerprint);
  const message = Buffer.from(
    `amisync-checkpoint-v1|${c.auditSeq}|${c.headHash}|${c.atMs}`,
    'ascii',
  );
  let valid = false;
  try {
    valid = verify(null, message, key, Buffer.from(c.signature, 'base64'));
  } catch {
    valid = false;
  }
  check('checkpoint signature', valid, `head ${c.auditSeq}`);
}

function checkChain(bundle) {
  const bySeq = new Map();
  let ok = bundle.chain.length > 0;
  let previous = null;
  for (const entry of bundle.chain) {
    if (entryHash(entry) !== entry.hash) ok = check(`chain entry ${entry.seq} hash`, false);
    if (previous !== null && (entry.seq !== previous.seq + 1 || entry.prevHash !== previous.hash)) {
      ok = check(`chain entry ${entry.seq} links to ${previous.seq}`, false);
    }
    bySeq.set(entry.seq, entry);
    previous = entry;
  }
  const last = bundle.chain.at(-1);
  check(
    'chain ends at the signed head',
    last?.seq === bundle.checkpoint.auditSeq && last?.hash === bundle.checkpoint.headHash,
  );
  check('chain segment', ok, `${bundle.chain.length} entries`);
  return bySeq;
}

// ---- Readings ----------------------------------------------------------------------------------

const V2_FIELDS = [
  'tag',
  'key',
  'meterId',
  'channel',
  'intervalStartMs',
  'seq',
  'intervalSeconds',
  'valueMicro',
  'statusCode',
  'quality',
  'checksum',
  'version',
  'supersedesKey',
  'batchId',
  'batchPosition',
  'commodity',
  'unit',
  'qualityDetail',
];

function parseLine(line) {
  const parts = line.split('|');
  const reading = {};
  V2_FIELDS.forEach((name, index) => (reading[name] = parts[index] ?? ''));
  for (const name of [
    'intervalStartMs',
    'seq',
    'intervalSeconds',
    'valueMicro',
    'version',
    'batchId',
    'batchPosition',
  ]) {
    reading[name] = Number(reading[name]);
  }
  if (reading.tag === 'ledger-v1') {
    reading.commodity = 'electricity';
    reading.unit = 'kWh';
  }
  return reading;
}

function idempotencyKey(r) {
  const start = new Date(r.intervalStartMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return sha256Hex(`v1|${r.meterId}|${r.channel}|${start}|${r.seq}`);
}

function checkReadings(dir, bundle, bySeq) {
  const proven = new Map();
  let leavesOk = true;
  for (const batch of bundle.batches) {
    const entry = bySeq.get(batch.auditSeq);
    const payload = entry === undefined ? null : JSON.parse(entry.payload);
    if (payload === null || entry.kind !== 'batch' || payload.batch !== batch.batchId) {
      leavesOk = check(`batch ${batch.batchId} audit entry`, false);
      continue;
    }
    const perLeaf = payload.ledgerRowsPerLeaf ?? 1;
    const treeSize = Math.ceil(payload.ledgerLeaves / perLeaf);
    for (const leaf of batch.leaves) {
      const included = verifyInclusion(
        leafHash(leaf.leafData),
        leaf.leafIndex,
        treeSize,
        leaf.auditPath,
        payload.ledgerRoot,
      );
      if (!included)
        leavesOk = check(`batch ${batch.batchId} leaf ${leaf.leafIndex} inclusion`, false);
      leaf.leafData.split('\n').forEach((line, row) => {
        if (included)
          proven.set(line, { batchId: batch.batchId, position: leaf.leafIndex * perLeaf + row });
      });
    }
    checkRaw(dir, batch, payload);
  }
  check('every leaf leads to its batch ledger root', leavesOk);
  const readings = bundle.readings.lines.map((line) => ({ ...parseLine(line), line }));
  let inLog = true;
  let keysOk = true;
  bundle.readings.lines.forEach((line, index) => {
    const at = proven.get(line);
    const r = readings[index];
    if (at === undefined || at.batchId !== r.batchId || at.position !== r.batchPosition) {
      inLog = check(`reading ${index} is in the audited log`, false, line.slice(0, 120));
    }
    if (idempotencyKey(r) !== r.key)
      keysOk = check(`reading ${index} idempotency key`, false, r.key);
  });
  check('every reading is a proven line of the audit log', inLog, `${readings.length} readings`);
  check('every idempotency key recomputes', keysOk);
  check(
    'readings Merkle root',
    merkleRoot(bundle.readings.lines.map(leafHash)) === bundle.readings.root,
    bundle.readings.root,
  );
  const digest = sha256Hex(
    readings
      .map((r) => `${r.key}:${r.version}`)
      .sort()
      .join('\n'),
  );
  check(
    'ledger digest of the readings',
    digest === bundle.invoice.ledgerDigest && readings.length === bundle.invoice.ledgerRows,
  );
  for (const batch of bundle.batches) {
    const raw = rawBytes(dir, batch);
    if (raw === null) continue;
    const text = raw.toString('latin1');
    const missing = readings.filter(
      (r) => r.batchId === batch.batchId && !text.includes(r.meterId),
    );
    check(`batch ${batch.batchId} raw bytes name every reading's meter`, missing.length === 0);
  }
  return readings;
}

function rawBytes(dir, batch) {
  return batch.raw.file === null ? null : readFileSync(join(dir, batch.raw.file));
}

function checkRaw(dir, batch, payload) {
  const raw = rawBytes(dir, batch);
  if (raw === null) return;
  check(
    `batch ${batch.batchId} raw bytes`,
    sha256Hex(raw) === batch.raw.sha256 && raw.length === payload.byteLength,
  );
}

// ---- Exact money (docs/billing.md "Rounding") --------------------------------------------------

function scaled(value, decimals) {
  const text = typeof value === 'number' ? String(value) : String(value).trim();
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
  if (match === null) throw new Error(`not a decimal: ${text}`);
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  let digits = whole + fraction;
  let scale = fraction.length - Number(exponent);
  while (scale > 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    scale -= 1;
  }
  if (scale > decimals) throw new Error(`${text} has more than ${decimals} decimals`);
  const magnitude = BigInt(digits) * 10n ** BigInt(decimals - scale);
  return sign === '-' ? -magnitude : magnitude;
}

const FEMTO_PER_CENT = 10_000_000_000_000n;
function roundCents(femto) {
  const negative = femto < 0n;
  const cents = ((negative ? -femto : femto) + FEMTO_PER_CENT / 2n) / FEMTO_PER_CENT;
  return Number(negative ? -cents : cents);
}

function tiersOf(periods = []) {
  return periods.map((tiers) =>
    tiers.map((t) => ({
      max: t.max === undefined ? null : scaled(t.max, 6),
      price:
        (t.rate === undefined ? 0n : scaled(t.rate, 9)) +
        (t.adj === undefined ? 0n : scaled(t.adj, 9)),
      unit: t.unit ?? 'kWh',
    })),
  );
}

function readTariff(json) {
  const rate = JSON.parse(json);
  const flat = tiersOf(rate.flatdemandstructure);
  return {
    energy: tiersOf(rate.energyratestructure),
    energyWeekday: rate.energyweekdayschedule ?? [],
    energyWeekend: rate.energyweekendschedule ?? [],
    demand: tiersOf(rate.demandratestructure),
    demandWeekday: rate.demandweekdayschedule ?? [],
    demandWeekend: rate.demandweekendschedule ?? [],
    flat,
    flatMonths: rate.flatdemandmonths ?? (flat.length > 0 ? Array(12).fill(0) : []),
    fixed: rate.fixedchargefirstmeter === undefined ? 0n : scaled(rate.fixedchargefirstmeter, 9),
    fixedUnit: rate.fixedchargeunits ?? '$/month',
    min: rate.mincharge === undefined ? 0n : scaled(rate.mincharge, 9),
    minUnit: rate.minchargeunits ?? '$/month',
  };
}

// ---- Local time and determinants ---------------------------------------------------------------

function localClock(timeZone) {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
  });
  return (ms) => {
    const parts = Object.fromEntries(
      format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]),
    );
    return {
      year: Number(parts.year),
      month: Number(parts.month) - 1,
      day: Number(parts.day),
      hour: Number(parts.hour),
      minute: Number(parts.minute),
      weekend: parts.weekday === 'Sat' || parts.weekday === 'Sun',
    };
  };
}

const periodAt = (weekday, weekend, slot) =>
  (slot.weekend ? weekend : weekday)[slot.month]?.[slot.hour] ?? 0;

function determinants(tariff, sp, readings) {
  const local = localClock(sp.timeZone);
  const d = {
    energyMicroByPeriod: Array(Math.max(1, tariff.energy.length)).fill(0),
    energyMicro: 0,
    estimatedEnergyMicro: 0,
    demandMicroKwByPeriod: Array(tariff.demand.length).fill(0),
    peakDemandMicroKw: 0,
    actualIntervals: 0,
    estimatedIntervals: 0,
    expectedIntervals: 0,
  };
  const intervals = new Map();
  let seconds = 0;
  for (const r of readings) {
    const inSpan = sp.spans.some(
      (s) => s.meterId === r.meterId && r.intervalStartMs >= s.fromMs && r.intervalStartMs < s.toMs,
    );
    if (!inSpan || r.commodity !== 'electricity' || r.unit !== 'kWh') continue;
    const period = periodAt(tariff.energyWeekday, tariff.energyWeekend, local(r.intervalStartMs));
    d.energyMicroByPeriod[period] = (d.energyMicroByPeriod[period] ?? 0) + r.valueMicro;
    d.energyMicro += r.valueMicro;
    const estimated = r.quality !== 'actual';
    if (estimated) d.estimatedEnergyMicro += r.valueMicro;
    const known = intervals.get(r.intervalStartMs);
    intervals.set(r.intervalStartMs, {
      value: (known?.value ?? 0) + r.valueMicro,
      seconds: r.intervalSeconds,
      estimated: (known?.estimated ?? false) || estimated,
    });
    seconds = seconds === 0 ? r.intervalSeconds : Math.min(seconds, r.intervalSeconds);
  }
  for (const [start, interval] of intervals) {
    if (interval.estimated) d.estimatedIntervals += 1;
    else d.actualIntervals += 1;
    const demand = Math.floor((interval.value * 3600) / interval.seconds);
    d.peakDemandMicroKw = Math.max(d.peakDemandMicroKw, demand);
    if (tariff.demand.length > 0) {
      const period = periodAt(tariff.demandWeekday, tariff.demandWeekend, local(start));
      d.demandMicroKwByPeriod[period] = Math.max(d.demandMicroKwByPeriod[period] ?? 0, demand);
    }
  }
  const intervalMs = (seconds === 0 ? 900 : seconds) * 1000;
  d.expectedIntervals = sp.spans.reduce(
    (sum, s) => sum + Math.max(0, Math.ceil((s.toMs - s.fromMs) / intervalMs)),
    0,
  );
  return d;
}

/** The month's local days and index, and whether [startMs, endMs) is exactly that local month. */
function monthFrame(period, sp) {
  const [year, month] = period.split('-').map(Number);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const local = localClock(sp.timeZone);
  const start = local(sp.startMs);
  const end = local(sp.endMs);
  const before = local(sp.startMs - 1);
  const exact =
    start.year === year &&
    start.month === month - 1 &&
    start.day === 1 &&
    start.hour === 0 &&
    start.minute === 0 &&
    end.day === 1 &&
    end.hour === 0 &&
    end.minute === 0 &&
    end.month === month % 12 &&
    before.month !== start.month;
  return { days, month: month - 1, exact };
}

// ---- Register (AMR) reads (docs/billing.md "Register reads" and "The register part") -------

const MICRO_PER_KWH = 1_000_000;
const MS_PER_HOUR = 3_600_000;
const isRegisterRead = (r) => r.intervalSeconds === 0 && r.channel.startsWith('reg:');

/** An actual read replaces the estimates before it: the reads that count, in time order. */
function readsInForce(reads) {
  const sorted = [...reads].sort((a, b) => a.intervalStartMs - b.intervalStartMs);
  let lastActualMs = -Infinity;
  for (const r of sorted) if (r.quality === 'actual') lastActualMs = r.intervalStartMs;
  return sorted.filter((r) => r.quality === 'actual' || r.intervalStartMs > lastActualMs);
}

/** A fall is a rollover when the digits are known, both reads fit them and the wrap is short. */
function rolloverDifference(previous, current, digits) {
  if (digits === null) return null;
  const range = 10 ** digits * MICRO_PER_KWH;
  if (previous >= range || current >= range) return null;
  const wrapped = range - previous + current;
  return wrapped < range / 2 ? wrapped : null;
}

function registerConfig(sp, meterId) {
  const span = sp.spans.find((s) => s.meterId === meterId);
  return { digits: span?.registerDigits ?? null, multiplier: span?.multiplier ?? 1 };
}

function registerUses(sp, reads) {
  const byStream = new Map();
  for (const r of reads) {
    const key = `${r.meterId}|${r.channel}`;
    byStream.set(key, [...(byStream.get(key) ?? []), r]);
  }
  const uses = [];
  for (const key of [...byStream.keys()].sort()) {
    const inForce = readsInForce(byStream.get(key));
    for (let at = 1; at < inForce.length; at++) {
      const [previous, current] = [inForce[at - 1], inForce[at]];
      const config = registerConfig(sp, previous.meterId);
      let difference = current.valueMicro - previous.valueMicro;
      let rollover = false;
      if (difference < 0) {
        difference = rolloverDifference(previous.valueMicro, current.valueMicro, config.digits);
        if (difference === null) continue; // a register going backwards bills nothing
        rollover = true;
      }
      uses.push({
        meterId: previous.meterId,
        channel: previous.channel,
        fromMs: previous.intervalStartMs,
        toMs: current.intervalStartMs,
        reads: [previous, current],
        registerDigits: config.digits,
        multiplier: config.multiplier,
        rollover,
        estimated: previous.quality !== 'actual' || current.quality !== 'actual',
        differenceMicro: difference,
        energyMicro: difference * config.multiplier,
      });
    }
  }
  return uses;
}

/** The energy of a use up to an instant: floor(E x elapsed / span), exact. */
function energyUpTo(use, atMs) {
  if (atMs <= use.fromMs) return 0n;
  if (atMs >= use.toMs) return BigInt(use.energyMicro);
  return (BigInt(use.energyMicro) * BigInt(atMs - use.fromMs)) / BigInt(use.toMs - use.fromMs);
}

function energyWithin(use, fromMs, toMs) {
  return toMs <= fromMs ? 0n : energyUpTo(use, toMs) - energyUpTo(use, fromMs);
}

/** Hours of the spans in each energy period (local time), and the period with the most. */
function fallbackPeriod(tariff, sp) {
  const local = localClock(sp.timeZone);
  const hours = new Map();
  for (const s of sp.spans)
    for (let at = s.fromMs; at < s.toMs; at += MS_PER_HOUR) {
      const period = periodAt(tariff.energyWeekday, tariff.energyWeekend, local(at));
      hours.set(period, (hours.get(period) ?? 0) + 1);
    }
  let best = 0;
  let bestHours = -1;
  for (const [period, count] of [...hours].sort((a, b) => a[0] - b[0]))
    if (count > bestHours) [best, bestHours] = [period, count];
  return best;
}

function registerDeterminants(tariff, sp, uses) {
  const d = {
    energyMicroByPeriod: Array(Math.max(1, tariff.energy.length)).fill(0),
    energyMicro: 0,
    estimatedEnergyMicro: 0,
    demandMicroKwByPeriod: Array(tariff.demand.length).fill(0),
    peakDemandMicroKw: 0,
    actualIntervals: 0,
    estimatedIntervals: 0,
    expectedIntervals: 0,
  };
  let actualMs = 0;
  let estimatedMs = 0;
  for (const use of uses) {
    use.billedMicro = 0;
    for (const s of sp.spans) {
      if (s.meterId !== use.meterId) continue;
      const from = Math.max(s.fromMs, use.fromMs);
      const to = Math.min(s.toMs, use.toMs);
      if (to <= from) continue;
      const energy = Number(energyWithin(use, from, to));
      use.billedMicro += energy;
      d.energyMicro += energy;
      if (use.estimated) {
        d.estimatedEnergyMicro += energy;
        estimatedMs += to - from;
      } else actualMs += to - from;
    }
  }
  d.energyMicroByPeriod[fallbackPeriod(tariff, sp)] = d.energyMicro;
  const spanMs = sp.spans.reduce((sum, s) => sum + Math.max(0, s.toMs - s.fromMs), 0);
  d.actualIntervals = Math.floor(actualMs / MS_PER_HOUR);
  d.estimatedIntervals = Math.floor(estimatedMs / MS_PER_HOUR);
  d.expectedIntervals = Math.ceil(spanMs / MS_PER_HOUR);
  return d;
}

const READ_FIELDS = ['key', 'version', 'atMs', 'valueMicro', 'quality'];
const USE_FIELDS = [
  'meterId',
  'channel',
  'registerDigits',
  'multiplier',
  'rollover',
  'estimated',
  'differenceMicro',
  'energyMicro',
  'billedMicro',
];

const readOf = (r) => ({
  key: r.key,
  version: r.version,
  atMs: r.intervalStartMs,
  valueMicro: r.valueMicro,
  quality: r.quality,
});

/** Compares the bundle's register part with the uses recomputed from the proven reads. */
function checkRegisterPart(sp, uses, lineOf) {
  const stated = sp.register;
  const name = `${sp.servicePointId} register`;
  if (!check(`${name} part is in the bundle`, stated !== undefined && Array.isArray(stated.uses)))
    return;
  const touched = uses.filter((u) =>
    sp.spans.some((s) => s.meterId === u.meterId && u.fromMs < s.toMs && s.fromMs < u.toMs),
  );
  const problems = [];
  if (stated.uses.length !== touched.length)
    problems.push(`${stated.uses.length} uses stated, ${touched.length} recomputed`);
  touched.forEach((use, index) => {
    const given = stated.uses[index] ?? {};
    const where = `use ${index} (${use.meterId} ${use.channel})`;
    for (const end of ['start', 'end']) {
      const proven = readOf(use.reads[end === 'start' ? 0 : 1]);
      for (const field of READ_FIELDS)
        if (given[end]?.[field] !== proven[field])
          problems.push(
            `${where} ${end} read ${field}: stated ${JSON.stringify(given[end]?.[field])}, ` +
              `proven ${JSON.stringify(proven[field])}`,
          );
    }
    for (const field of USE_FIELDS)
      if (given[field] !== use[field])
        problems.push(
          `${where} ${field}: stated ${JSON.stringify(given[field])}, ` +
            `recomputed ${JSON.stringify(use[field])}`,
        );
  });
  check(`${name} uses recompute from the proven reads`, problems.length === 0, problems.join('; '));
  const named = new Map();
  for (const use of touched)
    for (const r of use.reads) named.set(`${r.key}:${r.version}`, lineOf(r));
  check(
    `${name} reads Merkle root`,
    merkleRoot([...named.values()].map(leafHash)) === stated.readsRoot &&
      named.size === stated.reads,
    stated.readsRoot,
  );
}

// ---- Lines (docs/billing.md "Invoices") --------------------------------------------------------

function boundOf(tier, d, days) {
  if (tier.max === null) return null;
  if (tier.unit === 'kWh daily') return tier.max * BigInt(days);
  if (tier.unit === 'kWh/kW') return (tier.max * BigInt(d.peakDemandMicroKw)) / 1_000_000n;
  return tier.max;
}

function chargeLines(kind, spId, periods, quantities, d, days) {
  const lines = [];
  quantities.forEach((quantity, period) => {
    const tiers = periods[period];
    if (tiers === undefined || quantity === 0) return;
    let below = 0n;
    const q = BigInt(quantity);
    tiers.forEach((tier, index) => {
      const bound = boundOf(tier, d, days);
      const top = bound === null || index === tiers.length - 1 ? q : bound < q ? bound : q;
      const share = top > below ? top - below : 0n;
      if (share > 0n)
        lines.push({
          key: `${spId}|${kind}|${period}|${index}`,
          cents: roundCents(share * tier.price),
        });
      if (top > below) below = top;
    });
  });
  return lines;
}

function servicePointLines(spId, tariff, d, days, month, taxPercent) {
  const charge = (nano, unit) =>
    roundCents((unit === '$/day' ? nano * BigInt(days) : nano) * 1_000_000n);
  const lines = [];
  if (tariff.fixed !== 0n)
    lines.push({ key: `${spId}|fixed||`, cents: charge(tariff.fixed, tariff.fixedUnit) });
  lines.push(...chargeLines('energy', spId, tariff.energy, d.energyMicroByPeriod, d, days));
  lines.push(...chargeLines('demand', spId, tariff.demand, d.demandMicroKwByPeriod, d, days));
  const flatPeriod = tariff.flatMonths[month];
  if (flatPeriod !== undefined) {
    const quantities = tariff.flat.map((_, period) =>
      period === flatPeriod ? d.peakDemandMicroKw : 0,
    );
    lines.push(...chargeLines('flat-demand', spId, tariff.flat, quantities, d, days));
  }
  const minimum = charge(tariff.min, tariff.minUnit);
  const subtotal = lines.reduce((sum, l) => sum + l.cents, 0);
  if (subtotal < minimum) lines.push({ key: `${spId}|minimum||`, cents: minimum - subtotal });
  const percent = scaled(taxPercent, 6);
  if (percent !== 0n) {
    const base = lines.reduce((sum, l) => sum + l.cents, 0);
    lines.push({ key: `${spId}|tax||`, cents: roundCents(BigInt(base) * percent * 100_000n) });
  }
  return lines;
}

const keyOf = (line) =>
  [line.servicePointId, line.kind, line.period ?? '', line.tier ?? ''].join('|');

/** What is due minus what earlier invoices billed, by line key (an adjustment's lines). */
function difference(due, earlier) {
  const billed = new Map();
  for (const invoice of earlier)
    for (const line of invoice.lines)
      billed.set(keyOf(line), (billed.get(keyOf(line)) ?? 0) + line.amountCents);
  const result = new Map();
  for (const line of due) {
    const cents = line.cents - (billed.get(line.key) ?? 0);
    billed.delete(line.key);
    if (cents !== 0) result.set(line.key, cents);
  }
  for (const [key, cents] of billed) if (cents !== 0) result.set(key, -cents);
  return result;
}

/**
 * As billing decides: interval determinants when the service point's meters have intervals in
 * their spans; otherwise, when they have register reads, AMR determinants from those reads.
 */
function servicePointDeterminants(tariff, sp, readings) {
  const meters = new Set(sp.spans.map((s) => s.meterId));
  const intervals = readings.filter(
    (r) =>
      !isRegisterRead(r) &&
      sp.spans.some(
        (s) =>
          s.meterId === r.meterId && r.intervalStartMs >= s.fromMs && r.intervalStartMs < s.toMs,
      ),
  );
  const reads = readings.filter(
    (r) =>
      isRegisterRead(r) &&
      meters.has(r.meterId) &&
      r.commodity === 'electricity' &&
      r.unit === 'kWh',
  );
  if (intervals.length > 0 || reads.length === 0) {
    check(`${sp.servicePointId} has no register part`, sp.register === undefined);
    return determinants(tariff, sp, intervals);
  }
  const uses = registerUses(sp, reads);
  const d = registerDeterminants(tariff, sp, uses);
  checkRegisterPart(sp, uses, (r) => r.line);
  return d;
}

function checkInvoice(dir, bundle, bySeq, readings) {
  const invoice = bundle.invoice;
  const entry = bySeq.get(invoice.auditSeq);
  const signed = entry === undefined ? null : JSON.parse(entry.payload);
  const tariffShas = [];
  const due = [];
  let determinantsOk = true;
  for (const sp of bundle.servicePoints) {
    const json = readFileSync(join(dir, sp.tariffFile), 'utf8');
    const sha = sha256Hex(json);
    check(`tariff of ${sp.servicePointId} is the one billed`, sha === sp.tariffSha256, sha);
    tariffShas.push(sha);
    const tariff = readTariff(json);
    const frame = monthFrame(invoice.period, sp);
    check(
      `${sp.servicePointId} is billed over the local month`,
      frame.exact && frame.days === sp.determinants.days && frame.month === sp.determinants.month,
    );
    const d = servicePointDeterminants(tariff, sp, readings);
    for (const [name, value] of Object.entries(d)) {
      if (JSON.stringify(value) !== JSON.stringify(sp.determinants[name])) {
        determinantsOk = check(
          `${sp.servicePointId} determinant ${name}`,
          false,
          `${JSON.stringify(value)} vs ${JSON.stringify(sp.determinants[name])}`,
        );
      }
    }
    due.push(
      ...servicePointLines(
        sp.servicePointId,
        tariff,
        d,
        frame.days,
        frame.month,
        invoice.taxPercent,
      ),
    );
  }
  check('determinants recompute from the readings', determinantsOk);
  check(
    'the invoice audit entry names this invoice',
    signed !== null &&
      entry.kind === 'billing.invoice' &&
      signed.accountId === invoice.accountId &&
      signed.period === invoice.period &&
      signed.kind === invoice.kind &&
      signed.totalCents === invoice.totalCents &&
      signed.ledgerDigest === invoice.ledgerDigest &&
      signed.ledgerRowIdMax === invoice.ledgerRowIdMax &&
      JSON.stringify(signed.tariffs) === JSON.stringify(tariffShas),
  );
  for (const earlier of bundle.earlier) {
    const earlierEntry = bySeq.get(earlier.auditSeq);
    const total = earlier.lines.reduce((sum, l) => sum + l.amountCents, 0);
    check(
      `earlier invoice ${earlier.invoiceId} matches its audit entry`,
      earlierEntry !== undefined && JSON.parse(earlierEntry.payload).totalCents === total,
    );
  }
  const expected =
    invoice.kind === 'invoice'
      ? new Map(due.map((l) => [l.key, l.cents]))
      : difference(due, bundle.earlier);
  const stated = new Map(invoice.lines.map((l) => [keyOf(l), l.amountCents]));
  const keys = new Set([...expected.keys(), ...stated.keys()]);
  const differing = [...keys].filter((key) => (expected.get(key) ?? 0) !== (stated.get(key) ?? 0));
  check('every invoice line recomputes', differing.length === 0, differing.join(', '));
  const total = [...expected.values()].reduce((sum, cents) => sum + cents, 0);
  check(
    'the total recomputes to the signed total',
    total === invoice.totalCents && total === signed?.totalCents,
    `${total} cents`,
  );
}

function main() {
  const dir = process.argv[2];
  const json = process.argv.includes('--json');
  let bundle;
  try {
    if (dir === undefined) throw new Error('usage: node scripts/check-bill-proof.mjs DIR [--json]');
    bundle = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8'));
    if (bundle.format !== 'amisync-bill-proof-v1')
      throw new Error(`unknown bundle format ${bundle.format}`);
  } catch (error) {
    console.error(error.message);
    process.exit(2);
  }
  try {
    checkSignature(dir, bundle);
    const bySeq = checkChain(bundle);
    const readings = checkReadings(dir, bundle, bySeq);
    checkInvoice(dir, bundle, bySeq, readings);
  } catch (error) {
    check('the bundle reads', false, error.message);
  }
  const ok = checks.every((c) => c.ok);
  if (json)
    console.log(JSON.stringify({ ok, invoiceId: bundle.invoice?.invoiceId, checks }, null, 1));
  else {
    for (const c of checks)
      console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail === '' ? '' : ` (${c.detail})`}`);
    console.log(
      ok
        ? `invoice ${bundle.invoice.invoiceId}: every check passed`
        : `invoice ${bundle.invoice?.invoiceId}: FAILED`,
    );
  }
  process.exit(ok ? 0 : 1);
}

main();
