/**
 * Who is pushing: a vendor's API key (made by `amisync vendors add`, stored as a sha256 only) or a
 * bearer JWT naming the vendor in a claim; and which meters that vendor may push.
 *
 * Keys are kept as sha256, not scrypt: a key is 32 random bytes (256 bits), so no dictionary or
 * brute-force search can find one from its hash, and a slow hash would only make every request
 * spend tens of milliseconds of the one event loop that also commits readings.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { JWTVerifyGetKey } from 'jose';
import type { Clock, Random } from '../../core/clock.js';
import { AmisyncError } from '../../core/errors.js';
import type { MeterScope } from '../../core/source.js';
import type { VendorRow, VendorStore } from '../../core/store.js';
import type { PushJwtConfig, VendorMetersConfig } from './push-config.js';

/** A vendor as a request proved it: its name, how it proved it, and the meters it may push. */
export interface PushVendor {
  readonly name: string;
  readonly via: 'api-key' | 'jwt';
  readonly keyId: string | null;
  readonly scope: MeterScope;
}

const API_KEY = /^amk_([0-9a-f]{16})_([0-9a-f]{64})$/;

/** A new API key: `amk_<key id>_<secret>`. The key id is public; the whole key is the secret. */
export function newApiKey(random: Random): { key: string; keyId: string; keySha256: string } {
  const keyId = random.hex(8);
  const key = `amk_${keyId}_${random.hex(32)}`;
  return { key, keyId, keySha256: hash('sha256', key, 'hex') };
}

/** The meters a vendor entry allows. */
export function meterScopeOf(
  owner: string,
  meters: Pick<VendorMetersConfig, 'meters' | 'meterPattern' | 'anyMeter'> | null,
): MeterScope {
  if (meters?.anyMeter === true) return { owner, allows: () => true };
  if (meters?.meters !== undefined) {
    const allowed = new Set(meters.meters);
    return { owner, allows: (meterId) => allowed.has(meterId) };
  }
  if (meters?.meterPattern !== undefined) {
    const pattern = new RegExp(meters.meterPattern, 'u');
    return { owner, allows: (meterId) => pattern.test(meterId) };
  }
  return { owner, allows: () => false };
}

function tableMeters(
  row: VendorRow,
): Pick<VendorMetersConfig, 'meters' | 'meterPattern' | 'anyMeter'> {
  if (row.anyMeter) return { anyMeter: true };
  if (row.meters !== null) return { meters: [...row.meters] };
  if (row.meterPattern !== null) return { meterPattern: row.meterPattern };
  return {};
}

export interface PushAuthOptions {
  /** The store, looked up when a request comes (a service opens it after building sources). */
  store: () => VendorStore;
  clock: Clock;
  apiKeys: boolean;
  jwt: PushJwtConfig | undefined;
  /** The HS256 key when jwt names a secret. */
  jwtSecret: string | null;
  vendors: readonly VendorMetersConfig[];
}

function unauthenticated(message: string, details: Record<string, unknown> = {}): AmisyncError {
  return new AmisyncError('UNAUTHENTICATED', message, details);
}

/** Checks a request's credentials; throws UNAUTHENTICATED or FORBIDDEN. */
export class PushAuthenticator {
  readonly #options: PushAuthOptions;
  /** The secret, or the JWKS key set (made on the first JWT: jose loads only when one comes). */
  #jwtKey: Uint8Array | JWTVerifyGetKey | null;
  readonly #configured: ReadonlyMap<string, VendorMetersConfig>;

  constructor(options: PushAuthOptions) {
    this.#options = options;
    this.#configured = new Map(options.vendors.map((vendor) => [vendor.name, vendor]));
    const jwt = options.jwt;
    if (jwt === undefined || jwt.jwksUrl !== undefined) this.#jwtKey = null;
    else this.#jwtKey = new TextEncoder().encode(options.jwtSecret ?? '');
  }

  /** The vendor behind `Authorization: Bearer ...` or `X-API-Key`. */
  async authenticate(
    authorization: string | undefined,
    apiKey: string | undefined,
  ): Promise<PushVendor> {
    const bearer = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
    const credential = apiKey ?? bearer;
    if (credential === undefined) {
      throw unauthenticated('no credentials: send Authorization: Bearer <key or JWT>');
    }
    if (credential.startsWith('amk_')) return this.#byApiKey(credential);
    if (apiKey === undefined && this.#options.jwt !== undefined) return this.#byJwt(credential);
    throw unauthenticated('the credentials are not an API key this endpoint issued');
  }

  async #byApiKey(key: string): Promise<PushVendor> {
    const match = API_KEY.exec(key);
    if (!this.#options.apiKeys || match === null) {
      throw unauthenticated('the API key is not valid');
    }
    const keyId = match[1] as string;
    const row = await this.#options.store().findVendorByKeyId(keyId);
    if (row === null || !sameHash(row.keySha256, hash('sha256', key, 'hex'))) {
      throw unauthenticated('the API key is not valid', { keyId });
    }
    if (row.revokedAtMs !== null) {
      throw unauthenticated(`the API key of ${row.name} was revoked`, { keyId, vendor: row.name });
    }
    const configured = this.#configured.get(row.name);
    return {
      name: row.name,
      via: 'api-key',
      keyId,
      scope: meterScopeOf(row.name, configured ?? tableMeters(row)),
    };
  }

  async #byJwt(token: string): Promise<PushVendor> {
    const jwt = this.#options.jwt;
    if (jwt === undefined) throw unauthenticated('JWTs are not taken here');
    const { createRemoteJWKSet, jwtVerify } = await import('jose');
    if (this.#jwtKey === null && jwt.jwksUrl !== undefined) {
      this.#jwtKey = createRemoteJWKSet(new URL(jwt.jwksUrl));
    }
    const key = this.#jwtKey;
    let claim: unknown;
    try {
      const verified = await jwtVerify(token, key as Uint8Array, {
        ...(jwt.issuer === undefined ? {} : { issuer: jwt.issuer }),
        ...(jwt.audience === undefined ? {} : { audience: jwt.audience }),
        ...(jwt.jwksUrl === undefined ? { algorithms: ['HS256'] } : {}),
        currentDate: new Date(this.#options.clock.nowMs()),
      });
      claim = verified.payload[jwt.vendorClaim];
    } catch (error) {
      throw unauthenticated(`the JWT is not valid: ${(error as Error).message}`);
    }
    if (typeof claim !== 'string' || claim === '') {
      throw unauthenticated(`the JWT names no vendor in its ${jwt.vendorClaim} claim`);
    }
    return { name: claim, via: 'jwt', keyId: null, scope: await this.#scopeByName(claim) };
  }

  async #scopeByName(name: string): Promise<MeterScope> {
    const configured = this.#configured.get(name);
    if (configured !== undefined) return meterScopeOf(name, configured);
    const row = await this.#options.store().findVendorByName(name);
    if (row === null || row.revokedAtMs !== null) {
      throw new AmisyncError('FORBIDDEN', `vendor ${name} has no meters assigned`, {
        vendor: name,
      });
    }
    return meterScopeOf(name, tableMeters(row));
  }
}

function sameHash(storedHex: string, givenHex: string): boolean {
  const stored = Buffer.from(storedHex, 'hex');
  const given = Buffer.from(givenHex, 'hex');
  return stored.length === given.length && timingSafeEqual(stored, given);
}
