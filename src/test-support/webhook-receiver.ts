/**
 * A real alert webhook for tests: a node:http server on a loopback port (port 0) that keeps every
 * body it is sent and answers as the test's handler says (succeed, fail, or never answer). Stop
 * it with `close`, which also cuts the connections it left hanging.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Answers the `count`-th request (from 1); a handler that never calls `end` leaves it hanging. */
export type WebhookHandler = (body: string, response: ServerResponse, count: number) => void;

/** One alert as the webhook receives it (webhook-sink.ts, `webhookBody`). */
export interface ReceivedAlert {
  readonly type: string;
  readonly rule: string;
  readonly source: string | null;
  readonly severity: string;
  readonly message: string;
  readonly figures: Record<string, unknown>;
  readonly at: string;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Every body received, in order, as sent. */
  readonly bodies: string[];
  /** The bodies that parse as alerts. */
  alerts(): ReceivedAlert[];
  /** Resolves with the first alert of `rule` (and source, when given); rejects after `withinMs`. */
  waitFor(rule: string, withinMs: number, source?: string | null): Promise<ReceivedAlert>;
  close(): Promise<void>;
}

export const ANSWER_204: WebhookHandler = (_, response) => {
  response.statusCode = 204;
  response.end();
};

function parsed(body: string): ReceivedAlert | null {
  try {
    const value = JSON.parse(body) as ReceivedAlert;
    return typeof value.rule === 'string' ? value : null;
  } catch {
    return null;
  }
}

export async function startWebhookReceiver(
  handler: WebhookHandler = ANSWER_204,
): Promise<WebhookReceiver> {
  const bodies: string[] = [];
  let count = 0;
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      count += 1;
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      handler(body, response, count);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const alerts = (): ReceivedAlert[] =>
    bodies.map(parsed).filter((alert): alert is ReceivedAlert => alert !== null);
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    bodies,
    alerts,
    async waitFor(rule, withinMs, source) {
      const endMs = Date.now() + withinMs;
      for (;;) {
        const found = alerts().find(
          (alert) => alert.rule === rule && (source === undefined || alert.source === source),
        );
        if (found !== undefined) return found;
        if (Date.now() > endMs) {
          const seen = alerts().map((alert) => alert.rule);
          throw new Error(`no ${rule} alert within ${withinMs} ms (received: ${seen.join(', ')})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
