/**
 * Who holds a delivery while it runs, and whether that holder is still alive. Every engine stamps
 * the owner of the deliveries it creates with this process, and asks `isOwnerAlive` before it calls
 * an unfinished delivery interrupted: a live ingest in another process is never marked.
 */
import { hostname } from 'node:os';
import type { DeliveryOwner } from '../core/store.js';

/** This process: host, pid and the wall time it started (stable for the process's life). */
export function currentOwner(): DeliveryOwner {
  return {
    host: hostname(),
    pid: process.pid,
    processStartedAtMs: Math.round(performance.timeOrigin),
  };
}

/**
 * Whether the owner may still be running. An owner on another host cannot be checked from here and
 * counts as alive. On this host, a pid that no longer exists is dead; this process's own pid is
 * alive only with this process's start time (a container restarted with the same pid is not). A
 * pid reused by an unrelated process reads as alive: the safe side, never a live run marked.
 */
export function isOwnerAlive(owner: DeliveryOwner | null, self: DeliveryOwner): boolean {
  if (owner === null) return false;
  if (owner.host !== self.host) return true;
  if (owner.pid === self.pid) return owner.processStartedAtMs === self.processStartedAtMs;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
