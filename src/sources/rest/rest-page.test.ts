// Goal: a bad peer gets a precise TRANSPORT_* reason: an HTML page with status 200, a page without
// the records path, a cursor that never advances, a Link to another origin, a 404, a page over the
// byte limit, a peer that never answers; a body cut short is quarantined with its bytes and the
// page asked for again, a bounded number of times. Method: scripted answers from the loopback test
// server (and a raw socket that never answers), read through the source and the pipeline.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import { REST_CURSOR_REPEATS_MAX, REST_UNREADABLE_PAGES_MAX } from '../../core/limits.js';
import type { Delivery, Source } from '../../core/source.js';
import { VENDOR_DIALECT } from '../../test-support/dialects.js';
import {
  openHarness,
  quarantineOf,
  rawBytesOf,
  storedDeliveryBytes,
} from '../../test-support/ingest-harness.js';
import { generateFeed } from '../../simulator/feed-generator.js';
import { buildSource, NOW_MS, pageOf, restConfig } from '../../test-support/rest-source-kit.js';
import { RestTestServer, type PageStyle } from '../../test-support/rest-test-server.js';
import { removeTempDirs } from '../../test-support/temp.js';
import { RestHttp } from './rest-http.js';

const FEED = generateFeed({ seed: 4, meters: 2, intervals: 20, startMs: Date.UTC(2026, 2, 1) });

const servers: RestTestServer[] = [];
async function serve(style: PageStyle = 'cursor', stuckCursor = false) {
  const clock = { nowMs: () => NOW_MS };
  const server = await RestTestServer.start({ records: FEED.records, style, clock, stuckCursor });
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(removeTempDirs);

async function bytesOf(delivery: Delivery): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of delivery.bytes()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

function report0() {
  return {
    received: 0,
    accepted: 0,
    duplicates: 0,
    quarantined: 0,
    conflicts: 0,
    anomalyHeld: 0,
    deadLettered: 0,
    revisions: 0,
  };
}

function unexpected(): never {
  throw new Error('expected a failure');
}

async function refusal(source: Source): Promise<AmisyncError> {
  const signal = new AbortController().signal;
  await source.connect(signal, null);
  const error = await source.read(signal).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AmisyncError);
  return error as AmisyncError;
}

describe('RestSource and bad peers', () => {
  const cases: [
    string,
    { status: number; headers?: Record<string, string>; body?: string },
    RegExp,
  ][] = [
    [
      'an HTML error page with status 200',
      {
        status: 200,
        headers: { 'content-type': 'text/html' },
        body: '<html><title>Gateway</title>',
      },
      /answered 200 with an HTML page \(text\/html\), not JSON; it begins "<html><title>Gateway/,
    ],
    [
      'HTML labelled as JSON',
      { status: 200, body: '<!DOCTYPE html><p>maintenance</p>' },
      /is HTML or XML \(.*\); it begins "<!DOCTYPE html>/,
    ],
    [
      'a page without the records path',
      { status: 200, body: '{"data":{"items":[]},"next":null}' },
      /has nothing at the records path data.readings, not an array/,
    ],
    [
      'a page whose records are not an array',
      { status: 200, body: '{"data":{"readings":{"meter_id":"M1"}}}' },
      /has object at the records path data.readings, not an array/,
    ],
    [
      'a 404',
      { status: 404, body: '{"error":"no such tenant"}' },
      /answered 404, not a page: "\{\\"error\\":\\"no such tenant/,
    ],
    [
      'a cursor of the wrong type',
      { status: 200, body: '{"data":{"readings":[]},"next":{"token":"x"}}' },
      /has a object at next, not a cursor/,
    ],
  ];
  for (const [name, fault, message] of cases) {
    it(`refuses ${name} with TRANSPORT_PROTOCOL`, async () => {
      const server = await serve();
      server.faults.push(fault);
      const built = buildSource(restConfig(server));
      const error = await refusal(built.source);
      expect(error.code).toBe('TRANSPORT_PROTOCOL');
      expect(error.message).toMatch(message);
      // Nothing moved: the next read asks for the same page, which now answers.
      const page = await built.source.read(new AbortController().signal);
      expect('sourceDeliveryId' in page).toBe(true);
      expect(new Set(server.requests.map((request) => request.url)).size).toBe(1);
      await built.source.close();
    });
  }

  it('quarantines a body cut short with its bytes, asks for the page again, and fails after REST_UNREADABLE_PAGES_MAX', async () => {
    const server = await serve();
    const truncated = '{"data":{"readings":[{"meterNumber":"MTR-AAAA0001","val';
    for (let n = 0; n < REST_UNREADABLE_PAGES_MAX; n++) {
      server.faults.push({ status: 200, body: truncated });
    }
    const built = buildSource(
      restConfig(server, { records: { path: 'data.readings', dialect: VENDOR_DIALECT } }),
    );
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const harness = openHarness();
    try {
      for (let n = 1; n <= REST_UNREADABLE_PAGES_MAX; n++) {
        const delivery = (await built.source.read(signal)) as Delivery;
        expect(delivery.position).toBeNull();
        const report = await harness.ingest(await bytesOf(delivery), {
          format: delivery.format,
          ...(delivery.formatContext === null ? {} : { formatContext: delivery.formatContext }),
        });
        expect(report.counts).toMatchObject({ received: 1, quarantined: 1, accepted: 0 });
        await delivery.ack({
          deliveryId: report.deliveryId,
          counts: report.counts,
          firstDeliveryId: null,
        });
      }
      const [item] = await quarantineOf(harness);
      expect(item?.violations[0]?.code).toMatch(/^parse\.(syntax|not_json)$/);
      expect(truncated).toContain((await rawBytesOf(harness, item!)).toString('utf8'));
      const page0 = Buffer.byteLength(truncated);
      expect((await storedDeliveryBytes(harness, item!.deliveryId, page0)).toString()).toBe(
        truncated,
      );
      // The same page was asked for each time; it answers whole now and moves on.
      const page = await pageOf((await built.source.read(signal)) as Delivery);
      expect(page.records.length).toBeGreaterThan(0);
      expect(page.position).not.toBeNull();
      expect(new Set(server.requests.map((request) => request.url)).size).toBe(1);
      expect(server.requests).toHaveLength(REST_UNREADABLE_PAGES_MAX + 1);

      // A page that stays unreadable past the limit fails the source instead.
      for (let n = 0; n <= REST_UNREADABLE_PAGES_MAX; n++) {
        server.faults.push({ status: 200, body: truncated });
      }
      for (let n = 1; n <= REST_UNREADABLE_PAGES_MAX; n++) {
        const delivery = (await built.source.read(signal)) as Delivery;
        await delivery.ack({ deliveryId: 'dlv_x', counts: report0(), firstDeliveryId: null });
      }
      const error = await built.source.read(signal).then(unexpected, (thrown: unknown) => thrown);
      expect((error as AmisyncError).code).toBe('TRANSPORT_PROTOCOL');
      expect((error as AmisyncError).message).toMatch(
        /is not JSON \(.*\); it begins "\{\\"data\\"/,
      );
    } finally {
      await harness.close();
      await built.source.close();
    }
  });

  it('delivers a page whose cursor does not advance at most REST_CURSOR_REPEATS_MAX times', async () => {
    const server = await serve('cursor', true);
    const built = buildSource(restConfig(server));
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const ids = [];
    let error: unknown = null;
    for (let read = 0; read < 10 && error === null; read++) {
      try {
        const result = await built.source.read(signal);
        if ('idle' in result) throw new Error('expected a page');
        ids.push((await pageOf(result)).url);
        await result.ack({} as never);
      } catch (thrown) {
        error = thrown;
      }
    }
    // The first page, then the page its cursor names, which names itself again and again.
    expect(ids).toHaveLength(1 + REST_CURSOR_REPEATS_MAX);
    expect(new Set(ids.slice(1)).size).toBe(1);
    expect((error as AmisyncError).code).toBe('TRANSPORT_PROTOCOL');
    expect((error as AmisyncError).message).toMatch(
      /names its own cursor "MA" as the next one, 4 times in a row .*never advances/,
    );
    await built.source.close();
  });

  it('refuses a Link to another origin, where the credentials must not go', async () => {
    const server = await serve('link');
    server.faults.push({
      status: 200,
      headers: { link: '<http://127.0.0.2:1/v1/readings?offset=5>; rel="next"' },
      body: '{"data":{"readings":[]}}',
    });
    const built = buildSource(restConfig(server, { style: 'link' }));
    const error = await refusal(built.source);
    expect(error.message).toMatch(/links its next page to another origin/);
    await built.source.close();
  });

  it('refuses a body over its byte limit, quoting its first bytes', async () => {
    const server = await serve();
    server.faults.push({ status: 200, body: `{"data":{"readings":[${'1,'.repeat(5_000)}1]}}` });
    const http = new RestHttp(new ManualClock(NOW_MS), 5_000);
    const error = await http
      .send(
        {
          method: 'GET',
          url: `${server.url}/v1/readings`,
          headers: {},
          bodyBytesMax: 4_096,
          limitName: 'REST_PAGE_BYTES_MAX',
          what: 'the page /v1/readings',
        },
        new AbortController().signal,
      )
      .then(unexpected, (thrown: unknown) => thrown as AmisyncError);
    expect(error.code).toBe('TRANSPORT_PROTOCOL');
    expect(error.message).toMatch(
      /the page \/v1\/readings is larger than 4096 bytes \(REST_PAGE_BYTES_MAX\); .* it begins "\{\\"data\\":\{\\"readings\\":\[1,1,/,
    );
    await http.close();
  });

  it('gives up on a peer that never answers after requestTimeoutMs on the clock', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent = createServer(() => {});
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const clock = new ManualClock(NOW_MS);
    const built = buildSource(restConfig({ url } as RestTestServer, { requestTimeoutMs: 5_000 }), {
      clock,
    });
    const signal = new AbortController().signal;
    await built.source.connect(signal, null);
    const pending = built.source
      .read(signal)
      .then(unexpected, (thrown: unknown) => thrown as AmisyncError);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await clock.advance(5_000);
    const error = await pending;
    expect(error.code).toBe('TRANSPORT_TIMEOUT');
    expect(error.message).toMatch(/did not answer within 5000 ms \(requestTimeoutMs\)/);
    await built.source.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });
});
