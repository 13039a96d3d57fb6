/**
 * The configuration of a REST pull source (`kind: rest`): everything a vendor's head-end API varies
 * in (auth, the time window's parameters, pagination, where the records sit and how they map onto
 * the reference fields) is declared here, strictly, so a misspelt key is an error and not a silent
 * default. docs/config-rest.md documents every key.
 */
import { z } from 'zod';
import {
  REST_PAGE_SIZE_MAX,
  REST_PAGES_PER_POLL_MAX,
  REST_REQUEST_TIMEOUT_MS_MAX,
} from '../../core/limits.js';
import { baseSourceFields } from '../common/config.js';

const nonEmpty = z.string().min(1);
/** A query parameter or header name: no spaces, no separators that would need escaping. */
const parameterName = z.string().regex(/^[A-Za-z0-9_.~-]{1,64}$/, 'a parameter name, e.g. from');
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'a header name');
/** A dotted JSON path into a response (`data.readings`); `$` or `` is the document itself. */
const jsonPath = z
  .string()
  .regex(/^(\$|[^.\s]+(\.[^.\s]+)*)$/, 'a dotted path, e.g. data.readings');

const secretSource = {
  env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'),
  file: nonEmpty,
};

const oauthSchema = z
  .strictObject({
    type: z.literal('oauth'),
    tokenUrl: z.url({ protocol: /^https?$/ }),
    clientId: nonEmpty,
    clientSecretEnv: secretSource.env.optional(),
    clientSecretFile: secretSource.file.optional(),
    scope: nonEmpty.optional(),
    clientAuth: z.enum(['basic', 'body']).default('basic'),
  })
  .refine(
    (auth) => (auth.clientSecretEnv === undefined) !== (auth.clientSecretFile === undefined),
    {
      message: 'give exactly one of clientSecretEnv or clientSecretFile',
    },
  );

const apiKeySchema = z
  .strictObject({
    type: z.literal('apiKey'),
    header: headerName.default('X-Api-Key'),
    keyEnv: secretSource.env.optional(),
    keyFile: secretSource.file.optional(),
  })
  .refine((auth) => (auth.keyEnv === undefined) !== (auth.keyFile === undefined), {
    message: 'give exactly one of keyEnv or keyFile',
  });

const noAuthSchema = z.strictObject({ type: z.literal('none') });

const windowSchema = z
  .strictObject({
    fromParam: parameterName.default('from'),
    toParam: parameterName.default('to'),
    format: z.enum(['iso8601', 'epoch-seconds', 'epoch-ms']).default('iso8601'),
    backfillStart: z.iso.datetime({ offset: true }),
    overlapMinutes: z.number().int().min(0).max(10_080).default(60),
    maxWindowHours: z.number().int().min(1).max(8_784).default(24),
  })
  .refine((window) => window.maxWindowHours * 60 > window.overlapMinutes, {
    message: 'maxWindowHours must be longer than overlapMinutes, or no window would move on',
    path: ['maxWindowHours'],
  });

const paginationSchema = z.discriminatedUnion('style', [
  z.strictObject({
    style: z.literal('cursor'),
    cursorParam: parameterName.default('cursor'),
    nextCursorPath: jsonPath.default('next'),
    sizeParam: parameterName.default('pageSize'),
  }),
  z.strictObject({
    style: z.literal('link'),
    sizeParam: parameterName.default('pageSize'),
  }),
  z.strictObject({
    style: z.literal('page'),
    pageParam: parameterName.default('page'),
    sizeParam: parameterName.default('pageSize'),
    firstPage: z.number().int().min(0).max(1).default(1),
    totalPath: jsonPath.optional(),
  }),
]);

export const restSourceConfigSchema = z.strictObject({
  kind: z.literal('rest'),
  ...baseSourceFields,
  baseUrl: z.url({ protocol: /^https?$/ }),
  readingsPath: z.string().regex(/^\/[^?#\s]*$/, 'a path starting with /, e.g. /v1/readings'),
  auth: z.discriminatedUnion('type', [oauthSchema, apiKeySchema, noAuthSchema]),
  window: windowSchema,
  pagination: paginationSchema,
  records: z.strictObject({
    path: jsonPath,
    // The json-dialect format validates the dialect itself when the source is built.
    dialect: z.record(z.string(), z.unknown()),
  }),
  pageSize: z.number().int().min(1).max(REST_PAGE_SIZE_MAX).default(1_000),
  pagesPerPollMax: z.number().int().min(1).max(REST_PAGES_PER_POLL_MAX).default(100),
  requestTimeoutMs: z.number().int().min(100).max(REST_REQUEST_TIMEOUT_MS_MAX).default(30_000),
  headers: z.record(headerName, z.string().regex(/^[^\r\n]*$/, 'one line')).optional(),
});

export type RestSourceConfig = z.infer<typeof restSourceConfigSchema>;
export type RestAuthConfig = RestSourceConfig['auth'];
export type RestWindowConfig = RestSourceConfig['window'];
export type RestPaginationConfig = RestSourceConfig['pagination'];
