/**
 * The simulated head-end's own JSON record shape: the vendor API shape the project's JSON dialect
 * tests are written against (src/test-support/dialects.ts), served here so that the records a
 * client reads from the simulator are the ones a JSON dialect is proven to read. The REST source's
 * config names VENDOR_DIALECT as its records dialect.
 *
 * The mapping from a reference feed record keeps every verdict: a valid record becomes the same
 * reading (kWh as exact Wh text, status 0 and 1 as quality flags A and E) and a bad record stays
 * bad, so the generator's oracle holds for what the simulator serves.
 */
export { toVendorRecord, VENDOR_DIALECT } from '../../test-support/dialects.js';
