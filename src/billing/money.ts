/**
 * Exact money for billing (ARCH 2.7). Tariff prices arrive as JSON numbers in dollars and become
 * integers of nanodollars (1e-9 $) by scaling their shortest decimal text, never by float
 * arithmetic. A charge is energy (millionths of a kWh or of a kW) times a price in nanodollars, so
 * it is an integer of femtodollars (1e-15 $), exact. Each line item is rounded once to a whole
 * cent, half away from zero: the one rounding rule (docs/billing.md).
 */
export const NANODOLLARS_PER_DOLLAR = 1_000_000_000n;
/** Femtodollars per cent: 1e15 per dollar, 100 cents per dollar. */
export const FEMTODOLLARS_PER_CENT = 10_000_000_000_000n;
const PRICE_DECIMALS_MAX = 9;
const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

export type ScaledParse = { ok: true; scaled: bigint } | { ok: false; message: string };

/** A price in dollars as exact nanodollars; more than 9 decimals is refused, never rounded. */
export function parseDollars(value: number | string): ScaledParse {
  return parseScaled(value, PRICE_DECIMALS_MAX, 'dollars');
}

/**
 * A decimal (a JSON number read through its shortest text, or a string) as an integer of
 * 10^-decimals units; more decimals than that are refused, never rounded.
 */
export function parseScaled(value: number | string, decimals: number, what: string): ScaledParse {
  const text = typeof value === 'number' ? String(value) : value.trim();
  const match = DECIMAL_TEXT.exec(text);
  if (match === null || (typeof value === 'number' && !Number.isFinite(value))) {
    return { ok: false, message: `${JSON.stringify(value)} is not a decimal number of ${what}` };
  }
  const [, sign = '', whole = '0', fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText);
  let digits = whole + fraction;
  let scale = fraction.length - exponent;
  while (scale > 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    scale -= 1;
  }
  if (scale > decimals) {
    return { ok: false, message: `${text} has more than ${decimals} decimals of ${what}` };
  }
  const magnitude = BigInt(digits) * 10n ** BigInt(decimals - scale);
  return { ok: true, scaled: sign === '-' ? -magnitude : magnitude };
}

/** Whole cents from femtodollars, half away from zero (the one rounding rule). */
export function roundToCents(femtodollars: bigint): number {
  const negative = femtodollars < 0n;
  const magnitude = negative ? -femtodollars : femtodollars;
  const cents = (magnitude + FEMTODOLLARS_PER_CENT / 2n) / FEMTODOLLARS_PER_CENT;
  return Number(negative ? -cents : cents);
}

/** Femtodollars of a nanodollar amount. */
export function nanoToFemto(nanodollars: bigint): bigint {
  return nanodollars * 1_000_000n;
}

/** Cents as a dollar text with two decimals: 1234 -> "12.34", -5 -> "-0.05". */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const magnitude = Math.abs(cents);
  return `${sign}${Math.floor(magnitude / 100)}.${String(magnitude % 100).padStart(2, '0')}`;
}

/** Nanodollars as the shortest exact dollar text: 123450000n -> "0.12345". */
export function formatNanodollars(nanodollars: bigint): string {
  const negative = nanodollars < 0n;
  const text = (negative ? -nanodollars : nanodollars).toString().padStart(10, '0');
  const whole = text.slice(0, -9);
  const fraction = text.slice(-9).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}
