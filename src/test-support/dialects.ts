/**
 * Vendor dialects shared by tests: a CSV dialect, and (from the simulator, which serves it) a JSON
 * API's shape with the mapping of reference feed records onto it.
 */
export {
  kwhToWhText,
  toVendorRecord,
  VENDOR_DIALECT,
  VENDOR_RECORDS_PATH,
  vendorPage,
} from '../simulator/rest/vendor-shape.js';

/** A small vendor CSV dialect as its JSON file holds it: semicolons, decimal comma, Berlin. */
export const SEMICOLON_BERLIN_DIALECT = {
  name: 'test-dialect',
  delimiter: ';',
  decimalSeparator: ',',
  columns: {
    meterId: 'meter',
    channel: 'channel',
    timestamp: 'start',
    value: 'value',
    unit: 'unit',
    intervalSeconds: 'seconds',
  },
  timestampFormat: 'DD.MM.YYYY HH:mm',
  timeZone: 'Europe/Berlin',
  timestampMarks: 'start',
} as const;
