/**
 * Every source kind a configuration may name, in one list: the service validates and builds each
 * `sources[i]` with the kind its `kind:` names.
 */
import { jsonDialectSchema } from '../../formats/json-dialect/json-dialect-config.js';
import type { SourceKind } from '../../sources/common/config.js';
import { restSourceConfigSchema, type RestSourceConfig } from '../../sources/rest/rest-config.js';
import { restSourceKind } from '../../sources/rest/rest-source.js';
import { pushSourceKind } from '../../sources/http-push/http-push.js';
import { directorySourceKind } from '../../sources/directory/directory-source.js';
import { sftpSourceKind } from '../../sources/sftp/sftp-source.js';
import { mqttSourceKind } from '../../sources/mqtt/mqtt-source.js';
import { amqpSourceKind } from '../../sources/amqp/amqp-source.js';
import { natsSourceKind } from '../../sources/nats/nats-source.js';

export type AnySourceKind = SourceKind<{ kind: string; id: string }>;

/**
 * The REST kind with its records' dialect checked by the json-dialect format's own schema, so a
 * mistake there is reported with its full key path before anything connects (sources import only
 * core, so the check joins here).
 */
const REST_KIND: SourceKind<RestSourceConfig> = {
  ...restSourceKind,
  schema: restSourceConfigSchema.superRefine((config, context) => {
    const result = jsonDialectSchema.safeParse(config.records.dialect);
    for (const issue of result.error?.issues ?? []) {
      const path = ['records', 'dialect', ...issue.path];
      context.addIssue({ code: 'custom', path, message: issue.message });
    }
  }),
};

export const SOURCE_KINDS: readonly AnySourceKind[] = [
  REST_KIND as unknown as AnySourceKind,
  pushSourceKind as unknown as AnySourceKind,
  directorySourceKind as unknown as AnySourceKind,
  sftpSourceKind as unknown as AnySourceKind,
  mqttSourceKind as unknown as AnySourceKind,
  amqpSourceKind as unknown as AnySourceKind,
  natsSourceKind as unknown as AnySourceKind,
];
