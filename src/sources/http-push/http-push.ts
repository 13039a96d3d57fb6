/**
 * The push source kind (`kind: push`), for the service's source table: its schema and its factory.
 * Building one reads its secret (the JWT key) but does not listen: `connect` does.
 */
import type { SourceKind } from '../common/config.js';
import { pushSourceSchema, type PushSourceConfig } from './push-config.js';
import { PushSource } from './push-source.js';

export const pushSourceKind: SourceKind<PushSourceConfig> = {
  kind: 'push',
  schema: pushSourceSchema,
  create: (config, context) => new PushSource(config, context),
};

export { PushSource } from './push-source.js';
export { pushSourceSchema, type PushSourceConfig } from './push-config.js';
export { newApiKey } from './push-auth.js';
