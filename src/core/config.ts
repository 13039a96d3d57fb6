/**
 * What every JSON config of amisync (the data dictionary, a CSV dialect) shares once its schema
 * has checked it: one way to list its problems, each with its path, and deep freezing.
 */

/** A problem found in a config: zod's issues and the consistency rules' share this shape. */
export interface ConfigIssue {
  readonly code?: string;
  readonly keys?: readonly string[];
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** One line per problem, `  - path.to.key: message`; each unknown key on its own line. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys' && issue.keys !== undefined) {
      for (const key of issue.keys) {
        lines.push(`  - ${formatPath([...issue.path, key])}: unknown key`);
      }
    } else {
      lines.push(`  - ${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines.join('\n');
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((segment) => String(segment)).join('.');
}

/** Freezes a parsed config and everything in it, so no caller can change it after the checks. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
