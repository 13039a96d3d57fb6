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
