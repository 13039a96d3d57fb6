/**
 * Which format a push body is in, by its Content-Type. `text/plain` is NEM12 or CMEP as its first
 * record says (100,NEM12 or MEPMD01), read from the body's head before the request is queued.
 */
import { AmisyncError } from '../../core/errors.js';
import type { InputFormat } from '../../core/parser.js';

/** The media types the endpoint takes; docs/config-push.md lists them. */
export const MEDIA_FORMATS: Readonly<Record<string, InputFormat | 'sniff'>> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'text/csv': 'csv',
  'text/x-nem12': 'nem12',
  'text/x-cmep': 'cmep',
  'text/plain': 'sniff',
  'application/xml': 'green-button',
  'text/xml': 'green-button',
  'application/atom+xml': 'green-button',
};

function unsupported(message: string, contentType: string): AmisyncError {
  return new AmisyncError('FORMAT_UNKNOWN', message, { contentType });
}

/** The format a Content-Type names, or 'sniff'; throws FORMAT_UNKNOWN (415) otherwise. */
export function formatOfMediaType(contentType: string | undefined): InputFormat | 'sniff' {
  if (contentType === undefined || contentType.trim() === '') {
    throw unsupported('no Content-Type: say what the body is (docs/config-push.md)', '');
  }
  const [type = '', ...parameters] = contentType.split(';').map((part) => part.trim());
  const format = MEDIA_FORMATS[type.toLowerCase()];
  if (format === undefined) {
    throw unsupported(`Content-Type ${type} is not taken here (docs/config-push.md)`, type);
  }
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=').map((part) => part.trim());
    const charset = value.replace(/^"|"$/g, '').toLowerCase();
    if (name.toLowerCase() === 'charset' && charset !== 'utf-8' && charset !== 'us-ascii') {
      throw unsupported(`charset ${charset} is not taken: send UTF-8`, contentType);
    }
  }
  return format;
}

/** NEM12 or CMEP by the first record of a `text/plain` body; throws FORMAT_UNKNOWN otherwise. */
export function formatOfPlainText(head: Uint8Array): InputFormat {
  const text = new TextDecoder()
    .decode(head)
    .replace(/^\ufeff/, '')
    .trimStart();
  if (/^100,NEM1[23](,|\r|\n|$)/i.test(text)) return 'nem12';
  if (/^MEPMD01,/i.test(text)) return 'cmep';
  throw unsupported(
    'a text/plain body must start with a NEM12 100 or a CMEP MEPMD01 record',
    'text/plain',
  );
}
