/**
 * The configuration of a push source (`kind: push`): where it listens, how vendors authenticate,
 * which meters each may push, and its limits. docs/config-push.md documents every key.
 */
import { z } from 'zod';
import {
  PUSH_BODY_BYTES_MAX,
  PUSH_QUEUED_REQUESTS_MAX,
  PUSH_VENDOR_REQUESTS_PER_MINUTE,
} from '../../core/limits.js';
import { sourceIdSchema } from '../common/config.js';

const vendorNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ., - and _, at most 63');

/** The meters one vendor may push: a list, a pattern, or any meter. */
export const vendorMetersSchema = z
  .object({
    name: vendorNameSchema,
    meters: z.array(z.string().min(1)).optional(),
    meterPattern: z
      .string()
      .refine(isRegExp, 'a regular expression (JavaScript syntax)')
      .optional(),
    anyMeter: z.boolean().optional(),
  })
  .strict()
  .refine(
    (vendor) =>
      [
        vendor.meters !== undefined,
        vendor.meterPattern !== undefined,
        vendor.anyMeter === true,
      ].filter(Boolean).length === 1,
    'give exactly one of meters, meterPattern or anyMeter: true',
  );

const jwtSchema = z
  .object({
    /** HS256 shared key, from an environment variable or a file. */
    secretEnv: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
    /** Or keys from a JWKS URL (RS256, ES256, EdDSA...). */
    jwksUrl: z.url().optional(),
    issuer: z.string().min(1).optional(),
    audience: z.string().min(1).optional(),
    /** The claim that names the vendor. */
    vendorClaim: z.string().min(1).default('vendor'),
  })
  .strict()
  .refine(
    (jwt) =>
      [jwt.secretEnv !== undefined, jwt.secretFile !== undefined, jwt.jwksUrl !== undefined].filter(
        Boolean,
      ).length === 1,
    'give exactly one of secretEnv, secretFile or jwksUrl',
  );

export const pushSourceSchema = z
  .object({
    kind: z.literal('push'),
    id: sourceIdSchema,
    /** How long the runner waits when no request is queued: short, since requests wait on it. */
    pollIntervalMs: z.number().int().min(10).max(1_000).default(20),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*$/, 'an absolute URL path')
      .default('/v1/readings'),
    bodyBytesMax: z.number().int().min(1).max(PUSH_BODY_BYTES_MAX).default(PUSH_BODY_BYTES_MAX),
    queueMax: z
      .number()
      .int()
      .min(1)
      .max(PUSH_QUEUED_REQUESTS_MAX)
      .default(PUSH_QUEUED_REQUESTS_MAX),
    rateLimit: z
      .object({
        requestsPerMinute: z.number().int().min(1).default(PUSH_VENDOR_REQUESTS_PER_MINUTE),
        /** Requests a vendor may send at once before the rate applies; default a tenth of it. */
        burst: z.number().int().min(1).optional(),
      })
      .strict()
      .default({ requestsPerMinute: PUSH_VENDOR_REQUESTS_PER_MINUTE }),
    /** Whether keys made by `amisync vendors add` are taken. */
    apiKeys: z.boolean().default(true),
    jwt: jwtSchema.optional(),
    /** Meters per vendor; a vendor not listed here has the meters the vendors table gives it. */
    vendors: z.array(vendorMetersSchema).default([]),
  })
  .strict()
  .refine((config) => config.apiKeys || config.jwt !== undefined, {
    message: 'with apiKeys: false, give jwt: no vendor could authenticate',
    path: ['apiKeys'],
  });

export type PushSourceConfig = z.infer<typeof pushSourceSchema>;
export type VendorMetersConfig = z.infer<typeof vendorMetersSchema>;
export type PushJwtConfig = z.infer<typeof jwtSchema>;

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}
