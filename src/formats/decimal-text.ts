/**
 * Exact decimal text for the format readers: values stay strings from the wire to the validator,
 * and a change of unit or scale moves the decimal point instead of multiplying a float.
 */

/**
 * The canonical decimal of sign, digits and a point moved `exponent` places right: no leading
 * zeros, no trailing fraction zeros, `0` for zero, `-` only when negative.
 */
export function movePoint(
  negative: boolean,
  integerDigits: string,
  fractionDigits: string,
  exponent: number,
): string {
  const digits = integerDigits + fractionDigits;
  const pointFromLeft = integerDigits.length + exponent;
  const padded =
    pointFromLeft < 0
      ? '0'.repeat(-pointFromLeft) + digits
      : digits + '0'.repeat(Math.max(0, pointFromLeft - digits.length));
  const point = Math.max(pointFromLeft, 0);
  const integerPart = padded.slice(0, point).replace(/^0+/, '') || '0';
  const fractionPart = padded.slice(point).replace(/0+$/, '');
  const magnitude = fractionPart === '' ? integerPart : `${integerPart}.${fractionPart}`;
  return negative && magnitude !== '0' ? `-${magnitude}` : magnitude;
}
