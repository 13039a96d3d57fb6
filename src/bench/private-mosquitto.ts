/**
 * A Mosquitto of a process's own on a free loopback port, with the settings the caller gives: the
 * broker bench starts one that queues any number of messages, the tests of broker losses one that
 * queues only a few. Null when no `mosquitto` program can be started.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, portAnswers } from '../sources/common/loopback-port.js';

export interface PrivateMosquitto {
  readonly port: number;
  readonly url: string;
  /** Stops the broker and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `mosquitto -c <directory>/mosquitto.conf` listening on `port` (a free one when not
 * given) with `settings` (configuration lines) after the listener's; resolves once it answers.
 */
export async function privateMosquitto(
  directory: string,
  settings: readonly string[],
  port?: number,
): Promise<PrivateMosquitto | null> {
  const chosen = port ?? (await freePort());
  const conf = join(directory, 'mosquitto.conf');
  const lines = [`listener ${chosen} 127.0.0.1`, 'allow_anonymous true', ...settings, ''];
  writeFileSync(conf, lines.join('\n'));
  for (const program of ['mosquitto', '/usr/sbin/mosquitto']) {
    const child = spawn(program, ['-c', conf], { stdio: 'ignore' });
    const started = await new Promise<boolean>((resolve) => {
      child.once('error', () => resolve(false));
      child.once('spawn', () => resolve(true));
    });
    if (!started) continue;
    for (let tries = 0; tries < 50 && !(await portAnswers(chosen)); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    };
    if (await portAnswers(chosen)) return { port: chosen, url: `mqtt://127.0.0.1:${chosen}`, stop };
    await stop();
  }
  return null;
}
