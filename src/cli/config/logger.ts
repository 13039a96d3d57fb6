/**
 * The service's logger: pino, one JSON object per line, to a file or to stderr (stdout belongs to
 * the command's own output). Sources never log secrets; as a second guard, keys that commonly hold
 * one are censored wherever they appear in a log event's fields.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../../core/log.js';
import type { LOG_LEVELS } from './service-config.js';

/** Field names whose values are never written to the log. */
export const REDACTED_KEYS = [
  'authorization',
  'Authorization',
  'password',
  'clientSecret',
  'client_secret',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'apiKey',
  'privateKey',
] as const;

function redactPaths(): string[] {
  return REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
}

class PinoAdapter implements Logger {
  readonly #pino: PinoLogger;

  constructor(logger: PinoLogger) {
    this.#pino = logger;
  }

  debug(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#pino.debug(fields, message);
  }

  info(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#pino.info(fields, message);
  }

  warn(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#pino.warn(fields, message);
  }

  error(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#pino.error(fields, message);
  }

  child(fields: Readonly<Record<string, unknown>>): Logger {
    return new PinoAdapter(this.#pino.child(fields));
  }
}

export interface ServiceLogger {
  readonly log: Logger;
  /** Writes what is buffered; call before the process exits. */
  flush(): void;
}

/** A logger at `level` writing to `file` (appended, created if needed) or to stderr. */
export function createServiceLogger(options: {
  level: (typeof LOG_LEVELS)[number];
  file?: string | undefined;
}): ServiceLogger {
  const destination = pino.destination({
    dest: options.file ?? 2,
    sync: true,
    mkdir: options.file !== undefined,
  });
  const logger = pino(
    {
      level: options.level,
      base: { service: 'amisync' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths(), censor: '[redacted]' },
    },
    destination,
  );
  return { log: new PinoAdapter(logger), flush: () => destination.flushSync() };
}

/**
 * A logger whose destination is chosen later: the service builds its sources (which keep the
 * logger they are given) before it has read where the configuration wants the log, so everything
 * goes through this one and reaches whichever logger `route` named last.
 */
export class RoutedLogger implements Logger {
  readonly #target: { current: Logger };
  readonly #fields: Readonly<Record<string, unknown>>;

  constructor(initial: Logger, target = { current: initial }, fields = {}) {
    this.#target = target;
    this.#fields = fields;
  }

  /** Sends everything logged from now on, by this logger and its children, to `logger`. */
  route(logger: Logger): void {
    this.#target.current = logger;
  }

  debug(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#target.current.debug({ ...this.#fields, ...fields }, message);
  }

  info(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#target.current.info({ ...this.#fields, ...fields }, message);
  }

  warn(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#target.current.warn({ ...this.#fields, ...fields }, message);
  }

  error(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#target.current.error({ ...this.#fields, ...fields }, message);
  }

  child(fields: Readonly<Record<string, unknown>>): Logger {
    return new RoutedLogger(this.#target.current, this.#target, { ...this.#fields, ...fields });
  }
}
