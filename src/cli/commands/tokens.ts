/**
 * `amisync tokens add|list|revoke`: the tokens of the HTTP API and dashboard. A token is printed
 * once, when it is made; the store keeps only its sha256. Adding and revoking are audited with the
 * token's name and role; the token itself is never logged or audited.
 */
import { Option, type Command } from 'commander';
import { newApiToken } from '../../api/api-auth.js';
import { appendAuditEntry } from '../../audit/record.js';
import { AmisyncError } from '../../core/errors.js';
import { API_ROLES, type ApiRole } from '../../core/store.js';
import { openExistingStore, openStore, runtime, type GlobalOptions } from '../context.js';
import { printJson, printLines, table } from '../output.js';
import { action, withStore } from '../command-kit.js';

interface TokenOptions extends GlobalOptions {
  json?: boolean;
  role?: ApiRole;
  name?: string;
}

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/;

function isoOrEmpty(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

export interface AddedToken {
  readonly name: string;
  readonly role: ApiRole;
  readonly tokenId: string;
  readonly token: string;
}

/** Makes a token, stores its sha256 and audits it; returns the token, shown once. */
export async function addToken(options: TokenOptions): Promise<AddedToken> {
  const role = options.role;
  if (role === undefined || !API_ROLES.includes(role)) {
    throw new AmisyncError('USAGE', `--role must be one of ${API_ROLES.join(', ')}`, {
      field: '--role',
      value: role ?? null,
    });
  }
  const made = newApiToken(runtime.random);
  const name = options.name ?? `${role}-${made.tokenId.slice(0, 8)}`;
  if (!TOKEN_NAME.test(name)) {
    throw new AmisyncError(
      'USAGE',
      `--name ${JSON.stringify(name)}: a token name is letters, digits, ., @, - and _, at most 63`,
      { field: '--name', rule: 'pattern', value: name },
    );
  }
  const store = await openStore(options, runtime.clock);
  try {
    const createdAtMs = runtime.clock.nowMs();
    await store.addApiToken({
      name,
      role,
      tokenId: made.tokenId,
      tokenSha256: made.tokenSha256,
      createdAtMs,
    });
    await appendAuditEntry(
      store,
      'api-token.add',
      { name, role, tokenId: made.tokenId },
      createdAtMs,
    );
    return { name, role, tokenId: made.tokenId, token: made.token };
  } finally {
    await store.close();
  }
}

async function runTokensAdd(options: TokenOptions): Promise<void> {
  const added = await addToken(options);
  if (options.json === true) {
    printJson(added);
    return;
  }
  printLines([
    `token ${added.name} (${added.role}) added; shown this once:`,
    added.token,
    'Send it as "Authorization: Bearer <token>", or paste it on the dashboard\'s login page. ' +
      'Only its sha256 is stored.',
  ]);
}

async function runTokensList(options: TokenOptions): Promise<void> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const tokens = (await store.listApiTokens()).map(({ tokenSha256: _hash, ...token }) => token);
    if (options.json === true) {
      printJson({ tokens });
      return;
    }
    printLines(
      tokens.length === 0
        ? ['no tokens: amisync tokens add --role viewer|operator|auditor|admin']
        : table([
            ['name', 'role', 'token id', 'created', 'revoked'],
            ...tokens.map((t) => [
              t.name,
              t.role,
              t.tokenId,
              isoOrEmpty(t.createdAtMs),
              isoOrEmpty(t.revokedAtMs),
            ]),
          ]),
    );
  } finally {
    await store.close();
  }
}

async function runTokensRevoke(name: string, options: TokenOptions): Promise<void> {
  const store = await openExistingStore(options, runtime.clock);
  try {
    const atMs = runtime.clock.nowMs();
    if (!(await store.revokeApiToken(name, atMs))) {
      throw new AmisyncError('NOT_FOUND', `no token named ${name} in force`, { name });
    }
    await appendAuditEntry(store, 'api-token.revoke', { name }, atMs);
    if (options.json === true) printJson({ name, revokedAt: new Date(atMs).toISOString() });
    else printLines([`token ${name} revoked; its requests now get 401`]);
  } finally {
    await store.close();
  }
}

export function addTokensCommands(program: Command): Command {
  const tokens = program
    .command('tokens')
    .description('tokens of the HTTP API and dashboard (docs/api.md)');
  withStore(tokens.command('add'))
    .description('make a token and print it once (only its sha256 is stored)')
    .addOption(
      new Option('--role <role>', 'what it may do (docs/api.md)')
        .choices([...API_ROLES])
        .makeOptionMandatory(),
    )
    .option('--name <name>', 'who uses it; the audit trail names its calls api:<name>')
    .addHelpText(
      'after',
      '\nExample:\n  amisync tokens add --role operator --name night-shift --db ./amisync.db',
    )
    .action(action(async (options: TokenOptions) => runTokensAdd(options)));
  withStore(tokens.command('list'))
    .description('tokens: name, role, token id, created, revoked (never the tokens)')
    .addHelpText('after', '\nExample:\n  amisync tokens list --db ./amisync.db --json')
    .action(action(async (options: TokenOptions) => runTokensList(options)));
  withStore(tokens.command('revoke <name>'))
    .description('revoke a token: its requests get 401 from then on')
    .addHelpText('after', '\nExample:\n  amisync tokens revoke night-shift --db ./amisync.db')
    .action(action(async (name: string, options: TokenOptions) => runTokensRevoke(name, options)));
  return tokens;
}
