/**
 * Register (AMR) reads: a cumulative register value at an instant, stored as a reading of its own
 * kind. A register read is a Reading whose `intervalSeconds` is 0 (a read has a time, not a
 * span), whose `intervalStartMs` is the read time, whose `valueMicro` is the register's value in
 * millionths of a kWh, and whose channel is `reg:` followed by the register's id as its feed names
 * it (a NEM13 NMI suffix, a CMEP channel, the reference feed's channel). The prefix keeps a
 * meter's register reads in their own stream, apart from its interval channels, whose patterns
 * never allow `:`. Consumption is derived later, by difference (src/billing/register.ts).
 */
import type { Reading } from './reading.js';

export const REGISTER_INTERVAL_SECONDS = 0;
export const REGISTER_CHANNEL_PREFIX = 'reg:';
/** A register id as a feed names it (after the prefix). */
export const REGISTER_ID_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;
/** The largest register value accepted: ten digits of kWh (a whole register of any meter). */
export const REGISTER_KWH_MAX = 9_999_999_999;

export function registerChannel(registerId: string): string {
  return REGISTER_CHANNEL_PREFIX + registerId;
}

export function isRegisterChannel(channel: string): boolean {
  return channel.startsWith(REGISTER_CHANNEL_PREFIX);
}

/** Whether a reading (or a ledger row shaped like one) is a register read. */
export function isRegisterRead(reading: Pick<Reading, 'intervalSeconds' | 'channel'>): boolean {
  return (
    reading.intervalSeconds === REGISTER_INTERVAL_SECONDS && isRegisterChannel(reading.channel)
  );
}
