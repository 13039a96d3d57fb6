/**
 * The logger every part writes to: structured, one JSON object per event (pino in the service).
 * Parts take it injected, so tests can read what was logged and grep it for secrets.
 */
export interface Logger {
  debug(fields: Readonly<Record<string, unknown>>, message: string): void;
  info(fields: Readonly<Record<string, unknown>>, message: string): void;
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
  error(fields: Readonly<Record<string, unknown>>, message: string): void;
  /** A logger that adds these fields to every event (a source's id). */
  child(fields: Readonly<Record<string, unknown>>): Logger;
}

export interface LogEvent {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Readonly<Record<string, unknown>>;
}

/** Keeps every event in memory: for tests. */
export class MemoryLogger implements Logger {
  readonly events: LogEvent[];
  readonly #bound: Readonly<Record<string, unknown>>;

  constructor(events: LogEvent[] = [], bound: Readonly<Record<string, unknown>> = {}) {
    this.events = events;
    this.#bound = bound;
  }

  debug(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#push('debug', fields, message);
  }

  info(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#push('info', fields, message);
  }

  warn(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#push('warn', fields, message);
  }

  error(fields: Readonly<Record<string, unknown>>, message: string): void {
    this.#push('error', fields, message);
  }

  child(fields: Readonly<Record<string, unknown>>): Logger {
    return new MemoryLogger(this.events, { ...this.#bound, ...fields });
  }

  /** Every event as one JSON line each, as a log file would hold them. */
  text(): string {
    return this.events.map((event) => JSON.stringify(event)).join('\n');
  }

  #push(level: LogEvent['level'], fields: Readonly<Record<string, unknown>>, message: string) {
    this.events.push({ level, message, fields: { ...this.#bound, ...fields } });
  }
}

/** Drops everything. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
