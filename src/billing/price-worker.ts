/**
 * A bill run's pricing thread: receives one PricingJob (plain data: plans, tariffs, ledger rows),
 * answers with its priced accounts and is then terminated by the run (billing.ts).
 */
import { parentPort } from 'node:worker_threads';
import { priceAccounts, type PricingJob } from './billing.js';

parentPort?.once('message', (job: PricingJob) => {
  parentPort?.postMessage(priceAccounts(job));
});
