/**
 * A thread that copies the WAL's committed pages into the database file (a PASSIVE checkpoint, on
 * its own connection, every few milliseconds), so that the committing thread does not: with the
 * default automatic checkpoint, the connection whose COMMIT takes the WAL past 1,000 pages copies
 * them itself, in its own time. A passive checkpoint never waits for and never blocks the writer;
 * what it cannot copy yet it copies on a later round. It ends when told to (a message), closing
 * its connection.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface CheckpointWork {
  path: string;
  intervalMs: number;
}

const work = workerData as CheckpointWork;
const db = new Database(work.path, { fileMustExist: true });
// A checkpoint that finds another under way skips this round instead of waiting.
db.pragma('busy_timeout = 0');

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or locked: the next round tries again; the writer's own backstop bounds the WAL.
  }
}, work.intervalMs);

parentPort?.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
