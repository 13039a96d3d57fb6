// Goal: each status code of the push endpoint, 202 only after commit, one audit entry per request,
// and nothing but that entry written for a refused one.
// Method: a PushSource under the real runner and a real SQLite store (push-rig), real HTTP on
// loopback with fetch; rows counted on the store's own connection.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { generateFeed, toNdjson } from '../../simulator/feed-generator.js';
import {
  GREEN_BUTTON_INPUT_NAMES,
  greenButtonInput,
} from '../../formats/green-button/green-button-fixtures.js';
import { generateNem12Feed } from '../../simulator/nem12-generator.js';
import { startPushRig, type PushRig } from '../../test-support/push-rig.js';
import { removeTempDirs, tempDir } from '../../test-support/temp.js';

const FEED_START_MS = Date.UTC(2026, 2, 1);
const FEED = generateFeed({ seed: 7, meters: 3, intervals: 4, startMs: FEED_START_MS });
const METERS = [...new Set(FEED.records.map((record) => String(record.meter_id)))];
const BODY = [...toNdjson(FEED.records)].join('');
const NDJSON = 'application/x-ndjson';
const WRITTEN_TABLES = ['deliveries', 'ledger', 'quarantine', 'raw_chunks', 'batches'];

let rig: PushRig | null = null;

async function start(options: Parameters<typeof startPushRig>[0] = {}): Promise<PushRig> {
  rig = await startPushRig({ nowMs: FEED_START_MS + 86_400_000, ...options });
  return rig;
}

afterEach(async () => {
  await rig?.stop();
  rig = null;
});
afterAll(removeTempDirs);

async function post(
  url: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', body, headers });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, unknown>,
  };
}

function auth(key: string, type = NDJSON): Record<string, string> {
  return { authorization: `Bearer ${key}`, 'content-type': type };
}

function written(target: PushRig): Record<string, number> {
  return Object.fromEntries(WRITTEN_TABLES.map((table) => [table, target.count(table)]));
}

const NOTHING = Object.fromEntries(WRITTEN_TABLES.map((table) => [table, 0]));

function auditPayloads(target: PushRig): Record<string, unknown>[] {
  const rows = target.store.db
    .prepare("SELECT payload FROM audit_log WHERE kind = 'push.request' ORDER BY seq")
    .all() as { payload: string }[];
  return rows.map((row) => JSON.parse(row.payload) as Record<string, unknown>);
}

describe('push endpoint: 202 after commit', () => {
  it('answers 202 with the delivery id and counts once the delivery is complete', async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS });
    const response = await post(target.url, BODY, auth(key));
    expect(response.status).toBe(202);
    const deliveryId = response.json.deliveryId as string;
    const delivery = await target.store.getDelivery(deliveryId);
    expect(delivery?.status).toBe('complete');
    expect(response.json.counts).toEqual(delivery?.counts);
    expect(response.json.counts).toMatchObject({ received: 12, accepted: 12 });
    expect(target.count('ledger')).toBe(12);
    expect(delivery?.metadata).toMatchObject({ vendor: 'acme', via: 'api-key' });
    expect(auditPayloads(target)).toEqual([
      expect.objectContaining({ vendor: 'acme', status: 202, deliveryId, code: null }),
    ]);
  });

  it('takes NEM12 as text/plain by its header, and CSV by text/csv', async () => {
    const target = await start();
    const key = await target.addVendor('dist', { anyMeter: true });
    const nem12 = generateNem12Feed({
      nmis: 1,
      days: 2,
      firstDayMs: FEED_START_MS - 86_400_000 * 3,
    });
    const first = await post(target.url, nem12.text, auth(key, 'text/plain; charset=utf-8'));
    expect(first.status).toBe(202);
    expect((first.json.counts as { accepted: number }).accepted).toBeGreaterThan(0);
    expect((await target.store.getDelivery(first.json.deliveryId as string))?.format).toBe('nem12');
    const csv = `meter_id,timestamp_utc,consumption_kwh,status_code,seq\n${METERS[0]},2026-03-01T05:00:00Z,1.5,0,9\n`;
    const second = await post(target.url, csv, auth(key, 'text/csv'));
    expect(second.status).toBe(202);
    expect(second.json.counts).toMatchObject({ received: 1, accepted: 1 });
  });

  it('takes Green Button XML by application/atom+xml and CMEP by text/x-cmep', async () => {
    const target = await start({ nowMs: Date.UTC(2030, 0, 1) });
    const key = await target.addVendor('dist', { anyMeter: true });
    const xml = greenButtonInput(GREEN_BUTTON_INPUT_NAMES[0] ?? '');
    const cmep =
      'MEPMD01,19970819,SENDER,,RECEIVER,,202406020600,M-1,OK,E,KWH,1,00000100,2,' +
      '202406010100,,1.5,,,2.5\r\n';
    for (const [body, type, format] of [
      [xml, 'application/atom+xml', 'green-button'],
      [cmep, 'text/x-cmep', 'cmep'],
    ] as const) {
      const answer = await post(target.url, body, auth(key, type));
      expect(answer.status, type).toBe(202);
      expect((answer.json.counts as { received: number }).received).toBeGreaterThan(0);
      const delivery = await target.store.getDelivery(answer.json.deliveryId as string);
      expect(delivery?.format).toBe(format);
    }
  });

  it('quarantines the records of a body that is not what its Content-Type says, with bytes', async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS });
    const body = `${BODY}this is not json\n`;
    const response = await post(target.url, body, auth(key));
    expect(response.status).toBe(202);
    expect(response.json.counts).toMatchObject({ received: 13, accepted: 12, quarantined: 1 });
    const [item] = await target.store.listQuarantine({ limit: 10 });
    const bytes = await target.store.readDeliveryBytes(
      item?.deliveryId ?? '',
      item?.location.byteOffset ?? 0,
      item?.location.byteLength ?? 0,
    );
    expect(Buffer.from(bytes).toString('utf8')).toBe('this is not json');
  });
});

describe('push endpoint: Idempotency-Key', () => {
  it('answers the same key and body with the original response, and another body with 422', async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS });
    const headers = { ...auth(key), 'idempotency-key': 'batch-0001' };
    const first = await post(target.url, BODY, headers);
    const again = await post(target.url, BODY, headers);
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.json).toEqual({ ...first.json, replayed: true });
    const other = await post(target.url, `${BODY}\n`, headers);
    expect(other.status).toBe(422);
    expect(other.json).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
    expect(other.headers.get('content-type')).toBe('application/problem+json');
    expect(target.count('deliveries')).toBe(1);
    expect(target.count('ledger')).toBe(12);
    expect(auditPayloads(target).map((entry) => entry.status)).toEqual([202, 202, 422]);
  });

  it('keys are per vendor: another vendor may use the same key', async () => {
    const target = await start();
    const first = await target.addVendor('acme', { anyMeter: true });
    const second = await target.addVendor('bolt', { anyMeter: true });
    const a = await post(target.url, BODY, { ...auth(first), 'idempotency-key': 'k1' });
    const b = await post(target.url, `${BODY}\n`, { ...auth(second), 'idempotency-key': 'k1' });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.json.deliveryId).not.toBe(a.json.deliveryId);
  });
});

describe('push endpoint: refusals write nothing but their audit entry', () => {
  it('401 without credentials, with a wrong key, and with a revoked key', async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS });
    const none = await post(target.url, BODY, { 'content-type': NDJSON });
    const wrong = await post(target.url, BODY, auth(`${key.slice(0, -1)}0`));
    await target.store.revokeVendor('acme', target.clock.nowMs());
    const revoked = await post(target.url, BODY, auth(key));
    expect([none.status, wrong.status, revoked.status]).toEqual([401, 401, 401]);
    expect(none.json).toMatchObject({ code: 'UNAUTHENTICATED', type: 'about:blank' });
    expect(written(target)).toEqual(NOTHING);
    expect(target.count('audit_log')).toBe(3);
    expect(auditPayloads(target).map((entry) => entry.vendor)).toEqual([null, null, 'acme']);
  });

  it("403 when a vendor pushes another vendor's meter, and nothing of the body is written", async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS.slice(0, 2) });
    await target.addVendor('bolt', { meters: METERS.slice(2) });
    const response = await post(target.url, BODY, auth(key));
    expect(response.status).toBe(403);
    expect(response.json).toMatchObject({ code: 'FORBIDDEN', meterId: METERS[2] });
    expect(written(target)).toEqual(NOTHING);
    expect(target.count('audit_log')).toBe(1);
    expect(auditPayloads(target)[0]).toMatchObject({ vendor: 'acme', status: 403 });
  });

  it('413 for a body over the limit, declared or streamed', async () => {
    const target = await start({ config: { bodyBytesMax: 256 } });
    const key = await target.addVendor('acme', { meters: METERS });
    const declared = await post(target.url, BODY, auth(key));
    expect(declared.status).toBe(413);
    const streamed = await fetch(target.url, {
      method: 'POST',
      headers: auth(key),
      body: new Blob([BODY]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(written(target)).toEqual(NOTHING);
    expect(auditPayloads(target).map((entry) => entry.code)).toEqual([
      'PAYLOAD_TOO_LARGE',
      'PAYLOAD_TOO_LARGE',
    ]);
  });

  it('415 for an unknown content type, a text/plain body of no known format, another charset', async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS });
    const statuses = [
      (await post(target.url, BODY, auth(key, 'application/pdf'))).status,
      (await post(target.url, BODY, auth(key, 'text/plain'))).status,
      (await post(target.url, BODY, auth(key, 'text/csv; charset=latin1'))).status,
    ];
    expect(statuses).toEqual([415, 415, 415]);
    expect(written(target)).toEqual(NOTHING);
  });

  it('429 with Retry-After once a vendor is over its rate, while another vendor goes on', async () => {
    const target = await start({ config: { rateLimit: { requestsPerMinute: 6, burst: 2 } } });
    const key = await target.addVendor('acme', { anyMeter: true });
    const other = await target.addVendor('bolt', { anyMeter: true });
    const body = (n: number): string =>
      `${FEED.records
        .slice(n, n + 1)
        .map((r) => JSON.stringify(r))
        .join('')}\n`;
    expect((await post(target.url, body(0), auth(key))).status).toBe(202);
    expect((await post(target.url, body(1), auth(key))).status).toBe(202);
    const limited = await post(target.url, body(2), auth(key));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('10');
    expect((await post(target.url, body(2), auth(other))).status).toBe(202);
    target.clock.advanceMs(10_000);
    expect((await post(target.url, body(2), auth(key))).status).toBe(202);
    expect(target.count('deliveries')).toBe(4);
  });
});

describe('push endpoint: bearer JWT', () => {
  it('takes an HS256 JWT naming a configured vendor and refuses a bad signature', async () => {
    const dir = tempDir();
    const secretFile = join(dir, 'jwt.key');
    writeFileSync(secretFile, 'a shared key of at least thirty-two bytes\n');
    const target = await start({
      config: {
        jwt: { secretFile, issuer: 'vendor-hub' },
        vendors: [{ name: 'acme', meters: METERS }],
      },
    });
    const sign = (secret: string, vendor: string): Promise<string> =>
      new SignJWT({ vendor })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('vendor-hub')
        .setIssuedAt(Math.floor(target.clock.nowMs() / 1000))
        .setExpirationTime(Math.floor(target.clock.nowMs() / 1000) + 300)
        .sign(new TextEncoder().encode(secret));
    const good = await post(
      target.url,
      BODY,
      auth(await sign('a shared key of at least thirty-two bytes', 'acme')),
    );
    expect(good.status).toBe(202);
    expect(
      (await target.store.getDelivery(good.json.deliveryId as string))?.metadata,
    ).toMatchObject({ via: 'jwt' });
    const forged = await post(
      target.url,
      BODY,
      auth(await sign('another key of at least thirty-two bytes', 'acme')),
    );
    expect(forged.status).toBe(401);
    const stranger = await post(
      target.url,
      BODY,
      auth(await sign('a shared key of at least thirty-two bytes', 'zed')),
    );
    expect(stranger.status).toBe(403);
    expect(auditPayloads(target).map((entry) => [entry.vendor, entry.status])).toEqual([
      ['acme', 202],
      [null, 401],
      ['zed', 403],
    ]);
  });
});

describe('push endpoint: a commit that fails gets no 2xx', () => {
  it('answers 500 when the batch cannot commit, and the ledger holds nothing', async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS });
    target.store.db.exec(
      "CREATE TRIGGER fail_batches BEFORE INSERT ON batches BEGIN SELECT RAISE(ABORT, 'disk gone'); END;",
    );
    const response = await post(target.url, BODY, auth(key));
    expect(response.status).toBe(500);
    expect(response.json).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(JSON.stringify(response.json)).not.toContain('disk gone');
    expect(target.count('ledger')).toBe(0);
    expect(target.count('batches')).toBe(0);
    expect(target.errors).toHaveLength(1);
    target.store.db.exec('DROP TRIGGER fail_batches');
    const again = await post(target.url, BODY, auth(key));
    expect(again.status).toBe(202);
    expect(target.count('ledger')).toBe(12);
  });
});

describe('push endpoint: a full queue and a stopping endpoint', () => {
  it('answers 503 with Retry-After when the queue is full, then takes the waiting request', async () => {
    const target = await start({ paused: true, config: { queueMax: 1 } });
    const key = await target.addVendor('acme', { meters: METERS });
    const waiting = post(target.url, BODY, auth(key));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await post(target.url, BODY, auth(key));
    expect(refused.status).toBe(503);
    expect(refused.json).toMatchObject({ code: 'PUSH_QUEUE_FULL' });
    expect(refused.headers.get('retry-after')).toBe('1');
    target.resume();
    expect((await waiting).status).toBe(202);
    expect(target.count('deliveries')).toBe(1);
  });

  it('answers a request still queued at close 503 SHUTTING_DOWN, nothing of it written', async () => {
    const target = await start({ paused: true });
    const key = await target.addVendor('acme', { meters: METERS });
    const waiting = post(target.url, BODY, auth(key));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await target.source.close();
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(written(target)).toEqual(NOTHING);
  });
});

describe('push endpoint: keys from a JWKS URL', () => {
  it('takes an ES256 JWT whose key the JWKS publishes, and refuses one signed by another key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwks = JSON.stringify({
      keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }],
    });
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const target = await start({
        config: {
          jwt: { jwksUrl: `http://127.0.0.1:${port}/jwks.json` },
          vendors: [{ name: 'acme', anyMeter: true }],
        },
      });
      const nowSeconds = Math.floor(Date.now() / 1000);
      const sign = (key: Parameters<SignJWT['sign']>[0]) =>
        new SignJWT({ vendor: 'acme' })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setIssuedAt(nowSeconds)
          .sign(key);
      expect((await post(target.url, BODY, auth(await sign(privateKey)))).status).toBe(202);
      expect((await post(target.url, BODY, auth(await sign(other.privateKey)))).status).toBe(401);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('push endpoint: concurrency and lifecycle', () => {
  it('answers two requests with one Idempotency-Key at once from one delivery', async () => {
    const target = await start({ paused: true });
    const key = await target.addVendor('acme', { meters: METERS });
    const headers = { ...auth(key), 'idempotency-key': 'same' };
    const first = post(target.url, BODY, headers);
    const second = post(target.url, BODY, headers);
    await new Promise((resolve) => setTimeout(resolve, 100));
    target.resume();
    const answers = await Promise.all([first, second]);
    expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
    expect(answers[1]?.json.deliveryId).toBe(answers[0]?.json.deliveryId);
    expect(answers.map((answer) => answer.json.replayed).sort()).toEqual([false, true]);
    expect(target.count('deliveries')).toBe(1);
  });

  it('listens again after close, and reports a port in use as TRANSPORT_UNAVAILABLE', async () => {
    const target = await start();
    const key = await target.addVendor('acme', { meters: METERS });
    await target.source.close();
    await target.source.connect();
    expect((await post(target.source.url, BODY, auth(key))).status).toBe(202);
    const port = Number(new URL(target.source.url).port);
    const again = await startPushRig({ config: { port } }).catch((error: unknown) => error);
    expect(again).toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' });
  });
});
