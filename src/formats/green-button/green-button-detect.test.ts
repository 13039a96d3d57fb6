// Goal: a Green Button delivery is recognised by its root element whatever it is called, and no
// other XML is taken for one. Method: the public feeds' heads and hand-written heads.
import { describe, expect, it } from 'vitest';
import { DETECT_HEAD_BYTES_MAX, detectFormat } from '../formats.js';
import { isGreenButtonHead } from './green-button-detect.js';
import { GREEN_BUTTON_INPUT_NAMES, greenButtonInput } from './green-button-fixtures.js';

const encoder = new TextEncoder();

describe('detectFormat for Green Button', () => {
  it.each(GREEN_BUTTON_INPUT_NAMES)('%s is Green Button by content, whatever its name', (name) => {
    const head = greenButtonInput(name).subarray(0, DETECT_HEAD_BYTES_MAX);
    for (const fileName of [name, 'export', 'export.csv', 'export.json']) {
      expect(detectFormat(fileName, head)).toBe('green-button');
    }
  });

  it('does not map .xml by itself', () => {
    expect(detectFormat('reads.xml', encoder.encode('<xml/>'))).toBeNull();
    const rss = '<?xml version="1.0"?><rss version="2.0"><channel/></rss>';
    expect(detectFormat('reads.xml', encoder.encode(rss))).toBeNull();
  });
});

describe('isGreenButtonHead', () => {
  const atom = 'xmlns="http://www.w3.org/2005/Atom"';
  const espi = 'http://naesb.org/espi';

  it('takes Atom feeds and entries, and ESPI roots, in their namespaces', () => {
    expect(isGreenButtonHead(`<feed ${atom}>`)).toBe(true);
    expect(isGreenButtonHead(`\ufeff \n<entry ${atom}/>`)).toBe(true);
    expect(isGreenButtonHead(`<a:feed xmlns:a='http://www.w3.org/2005/Atom'>`)).toBe(true);
    expect(isGreenButtonHead(`<UsagePoint xmlns="${espi}">`)).toBe(true);
    expect(isGreenButtonHead(`<e.x:MeterReading xmlns:e.x="${espi}"><e.x:ReadingType>`)).toBe(true);
  });

  it('skips a prolog: declaration, processing instructions, comments and a DOCTYPE', () => {
    const prolog =
      '<?xml version="1.0"?>\n<?xml-stylesheet href="a.xslt"?>\n<!-- a > b -->\n' +
      '<!DOCTYPE feed [<!ENTITY a "x>y">]>\n';
    expect(isGreenButtonHead(`${prolog}<feed ${atom}>`)).toBe(true);
  });

  it('refuses other roots, other namespaces and heads that do not reach the root', () => {
    expect(isGreenButtonHead(`<feed>`)).toBe(false);
    expect(isGreenButtonHead(`<feed xmlns="urn:other">`)).toBe(false);
    expect(isGreenButtonHead(`<UsagePoint ${atom}>`)).toBe(false);
    expect(isGreenButtonHead(`<a:feed xmlns="http://www.w3.org/2005/Atom">`)).toBe(false);
    expect(isGreenButtonHead(`<Meter xmlns="${espi}">`)).toBe(false);
    expect(isGreenButtonHead('<!-- a comment that never ends')).toBe(false);
    expect(isGreenButtonHead(`<feed ${atom}`)).toBe(false);
    expect(isGreenButtonHead('meter_id,timestamp_utc')).toBe(false);
  });
});
