/**
 * A remote folder on an SFTP server as a drop source (`kind: sftp`): the shared drop semantics
 * (drop-source.ts) over ssh2-sftp-client. The server's host key is pinned by its SHA-256
 * fingerprint, the `SHA256:...` form `ssh-keygen -lf` prints: a server showing any other key is
 * refused with TRANSPORT_HOST_KEY before any credential is sent, never trusted on first use.
 * Acknowledged files are renamed into `archivePath` on the server, or deleted.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type SftpClient from 'ssh2-sftp-client';
import { z } from 'zod';
import { AmisyncError } from '../../core/errors.js';
import type { SourceContext } from '../../core/source.js';
import { baseSourceFields, type SourceKind } from '../common/config.js';
import type { DropEntry, DropFileSystem } from '../common/drop-files.js';
import { DropSource, dropOptionsOf, dropSourceFields } from '../common/drop-source.js';

/** A fingerprint as `ssh-keygen -lf` prints it: SHA256: and 43 base64 characters, unpadded. */
const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

export const sftpSourceSchema = z
  .object({
    kind: z.literal('sftp'),
    ...baseSourceFields,
    host: z.string().min(1),
    port: z.number().int().min(1).max(65_535).default(22),
    username: z.string().min(1),
    /** An OpenSSH or PEM private key file; its passphrase, if any, from an env var or file. */
    privateKeyFile: z.string().min(1).optional(),
    passphraseEnv: z.string().min(1).optional(),
    passphraseFile: z.string().min(1).optional(),
    passwordEnv: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    hostKeySha256: z
      .string()
      .regex(FINGERPRINT_PATTERN, 'the SHA256:... fingerprint ssh-keygen -lf prints'),
    remotePath: z.string().min(1),
    /** Where acknowledged files go on the server; default: `archive` inside remotePath. */
    archivePath: z.string().min(1).optional(),
    connectTimeoutMs: z.number().int().min(100).max(600_000).default(20_000),
    ...dropSourceFields,
  })
  .strict()
  .superRefine((config, issues) => {
    const ways = [config.privateKeyFile, config.passwordEnv, config.passwordFile];
    if (ways.filter((way) => way !== undefined).length !== 1) {
      issues.addIssue({
        code: 'custom',
        path: ['privateKeyFile'],
        message: 'give exactly one of privateKeyFile, passwordEnv or passwordFile',
      });
    }
  });

export type SftpSourceConfig = z.infer<typeof sftpSourceSchema>;

/** The fingerprint of a raw public key blob, in the form `ssh-keygen -lf` prints. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** How the source logs in: a key (and its passphrase) or a password, read when it is built. */
type Credentials = { privateKey: string; passphrase?: string } | { password: string };

function credentialsOf(config: SftpSourceConfig, context: SourceContext): Credentials {
  if (config.privateKeyFile !== undefined) {
    const privateKey = `${context.secret({ file: config.privateKeyFile }, 'privateKey')}\n`;
    const hasPassphrase = config.passphraseEnv !== undefined || config.passphraseFile !== undefined;
    if (!hasPassphrase) return { privateKey };
    const ref = { env: config.passphraseEnv, file: config.passphraseFile };
    return { privateKey, passphrase: context.secret(ref, 'passphrase') };
  }
  return {
    password: context.secret({ env: config.passwordEnv, file: config.passwordFile }, 'password'),
  };
}

export class SftpDropFolder implements DropFileSystem {
  readonly where: string;
  readonly #config: SftpSourceConfig;
  readonly #credentials: Credentials;
  readonly #archivePath: string;
  #client: SftpClient | null = null;

  constructor(config: SftpSourceConfig, credentials: Credentials) {
    this.#config = config;
    this.#credentials = credentials;
    this.where = `sftp://${config.username}@${config.host}:${config.port}${config.remotePath}`;
    this.#archivePath = config.archivePath ?? posix.join(config.remotePath, 'archive');
  }

  async open(): Promise<void> {
    // Loaded on first connect, so commands that never connect start without it.
    const { default: Client } = await import('ssh2-sftp-client');
    const client = new Client('amisync');
    let shown: string | null = null;
    try {
      await client.connect({
        host: this.#config.host,
        port: this.#config.port,
        username: this.#config.username,
        readyTimeout: this.#config.connectTimeoutMs,
        retries: 0,
        ...this.#credentials,
        hostVerifier: (key: Buffer) => {
          shown = hostKeyFingerprint(key);
          return shown === this.#config.hostKeySha256;
        },
      });
    } catch (error) {
      await client.end().catch(() => false);
      throw this.#connectError(error, shown);
    }
    this.#client = client;
    await this.#prepareFolders(client);
  }

  async #prepareFolders(client: SftpClient): Promise<void> {
    try {
      if ((await client.exists(this.#config.remotePath)) !== 'd') {
        throw new Error(`${this.#config.remotePath} is not a folder on the server`);
      }
      if ((await client.exists(this.#archivePath)) === false) {
        await client.mkdir(this.#archivePath, true);
      }
    } catch (error) {
      await this.close();
      throw new AmisyncError(
        'TRANSPORT_UNAVAILABLE',
        `${this.where}: cannot use the inbox and archive folders: ${(error as Error).message}`,
      );
    }
  }

  #connectError(error: unknown, shown: string | null): AmisyncError {
    const message = (error as Error).message;
    const target = `${this.#config.host}:${this.#config.port}`;
    if (shown !== null && shown !== this.#config.hostKeySha256) {
      return new AmisyncError(
        'TRANSPORT_HOST_KEY',
        `${target} showed host key ${shown}, not the pinned ${this.#config.hostKeySha256}: ` +
          'refused, no credentials were sent. If the server key changed on purpose, check the ' +
          'new one with the server operator (ssh-keygen -lf) and update hostKeySha256.',
        { host: this.#config.host, port: this.#config.port, shown },
      );
    }
    if (/authentication/i.test(message)) {
      return new AmisyncError(
        'TRANSPORT_AUTH_FAILED',
        `${target} refused the credentials of ${this.#config.username}: ${message}`,
        { host: this.#config.host, port: this.#config.port },
      );
    }
    const code = /timed out/i.test(message) ? 'TRANSPORT_TIMEOUT' : 'TRANSPORT_UNAVAILABLE';
    return new AmisyncError(code, `${target}: cannot connect: ${message}`, {
      host: this.#config.host,
      port: this.#config.port,
    });
  }

  #connected(): SftpClient {
    if (this.#client === null) {
      throw new AmisyncError('TRANSPORT_UNAVAILABLE', `${this.where}: not connected`);
    }
    return this.#client;
  }

  #inbox(name: string): string {
    return posix.join(this.#config.remotePath, name);
  }

  async list(): Promise<DropEntry[]> {
    const entries = await this.#connected().list(this.#config.remotePath);
    return entries
      .filter((entry) => entry.type === '-')
      .map((entry) => ({ name: entry.name, sizeBytes: entry.size, mtimeMs: entry.modifyTime }));
  }

  async stat(name: string): Promise<DropEntry | null> {
    try {
      const stats = await this.#connected().stat(this.#inbox(name));
      if (!stats.isFile) return null;
      return { name, sizeBytes: stats.size, mtimeMs: stats.modifyTime };
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return null;
      throw error;
    }
  }

  read(name: string): AsyncIterable<Uint8Array> {
    const stream = this.#connected().createReadStream(this.#inbox(name));
    // A reader sees every error through its iteration. This listener only keeps an error that
    // comes after the reader stopped (the server closing the channel on a read still in flight:
    // ssh2's "No response from server") from being thrown as an uncaught exception that would
    // end the whole service.
    stream.on('error', () => undefined);
    return stream;
  }

  async archived(archivedName: string): Promise<boolean> {
    return (await this.#connected().exists(posix.join(this.#archivePath, archivedName))) !== false;
  }

  async archive(name: string, archivedName: string): Promise<void> {
    await this.#connected().rename(this.#inbox(name), posix.join(this.#archivePath, archivedName));
  }

  async remove(name: string): Promise<void> {
    await this.#connected().delete(this.#inbox(name));
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client !== null) await client.end().catch(() => false);
  }
}

export const sftpSourceKind: SourceKind<SftpSourceConfig> = {
  kind: 'sftp',
  schema: sftpSourceSchema,
  create(config, context) {
    const folder = new SftpDropFolder(config, credentialsOf(config, context));
    return new DropSource(folder, dropOptionsOf(config), context);
  },
};
