// Goal: a batch's PUBACKs, written by the MQTT link as one buffer, are the packets MQTT 5 defines
// for a success without properties: type 4 with no flags, remaining length 2, the packet id big
// endian, one after another in the order given.
// Method: byte for byte against packets written out by hand, the id's both bytes and its largest
// value included. That the broker takes them is proven against Mosquitto in
// mqtt-source.integration.test.ts (nothing held for the session after a commit).
import { describe, expect, it } from 'vitest';
import { pubacks } from './mqtt-source.js';

describe('pubacks', () => {
  it('writes one 4-byte PUBACK per packet id, in order', () => {
    expect([...pubacks([1, 0x1234, 65_535])]).toEqual([
      0x40, 0x02, 0x00, 0x01, 0x40, 0x02, 0x12, 0x34, 0x40, 0x02, 0xff, 0xff,
    ]);
    expect(pubacks([]).length).toBe(0);
  });
});
