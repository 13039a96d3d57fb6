/**
 * A parse thread of the parallel pipeline (parallel-parse.ts): receives a job of NDJSON segments
 * (whole lines cut from a delivery, in one transferred buffer), parses, validates and keys their
 * records exactly as the single-thread pipeline does, and answers with the verdicts packed by
 * judged-codec.ts. It keeps no state between jobs but the last dictionary it was sent.
 */
import { parentPort } from 'node:worker_threads';
import { handleParseJob, type ParseJob } from './parse-job.js';

parentPort?.on('message', (job: ParseJob) => {
  const answer = handleParseJob(job);
  const { numbers, text, keys } = answer.verdicts;
  parentPort?.postMessage(answer, [numbers, text, keys]);
});
