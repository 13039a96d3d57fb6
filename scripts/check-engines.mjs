// Fails when npm warned that a DIRECT dependency needs a newer Node than this one (EBADENGINE).
// Transitive warnings are listed but allowed: a few known packages warn and work.
import { readFileSync } from 'node:fs';

const log = readFileSync(process.argv[2], 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const direct = new Set([
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.devDependencies ?? {}),
]);
const flagged = [...log.matchAll(/EBADENGINE\s+package:\s*'((?:@[^/']+\/)?[^@']+)@/g)].map(
  (m) => m[1],
);
const bad = flagged.filter((name) => direct.has(name));
for (const name of flagged)
  console.log(`engine warning: ${name}${direct.has(name) ? ' (direct)' : ''}`);
if (bad.length > 0) {
  console.error(`direct dependencies need a newer Node: ${bad.join(', ')}`);
  process.exit(1);
}
console.log(`engines: ${flagged.length} transitive warning(s), no direct dependency affected`);
