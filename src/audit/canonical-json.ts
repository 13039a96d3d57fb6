/**
 * Canonical JSON: one byte-exact text per value, so that a hash over it means the same thing to
 * every writer and every auditor. Audit payloads are rendered with it before they are hashed.
 */
import assert from 'node:assert/strict';

/**
 * Nesting depth at which rendering gives up. Audit payloads are shallow; the limit turns a
 * pathological value into an assertion instead of a stack overflow.
 */
export const CANONICAL_JSON_DEPTH_MAX = 256;

/** Where the walk is: the containers above the current value, and the keys leading to it. */
interface WalkState {
  readonly ancestors: object[];
  readonly path: (string | number)[];
}

/**
 * Renders `value` as canonical JSON.
 *
 * The rules, which an auditor reimplementing this must follow exactly:
 * - object keys sorted by UTF-16 code unit order (JavaScript's default string sort), no whitespace;
 * - arrays keep their order;
 * - strings and numbers exactly as `JSON.stringify` renders them (shortest round-trip numbers,
 *   escapes for `"`, `\`, control characters and lone surrogates; everything else literal);
 * - a bigint becomes a JSON string of its decimal digits (`10n` -> `"10"`), because a JSON number
 *   that large would lose digits in most parsers;
 * - an object property whose value is `undefined` is omitted, as `JSON.stringify` does.
 *
 * Only plain objects (prototype `Object.prototype` or `null`), arrays, strings, finite numbers,
 * booleans, `null` and bigints are accepted. Everything else is a programmer error and fails an
 * assertion naming the path to the value: `undefined` outside an object property (including array
 * holes), functions, symbols, `NaN`, infinities, `-0` (which `JSON.stringify` would silently turn
 * into `0`), class instances such as `Date`, `Map` or `Buffer` (which would otherwise be silently
 * mangled), cycles, and nesting deeper than {@link CANONICAL_JSON_DEPTH_MAX}.
 *
 * Pure; safe to call from any part.
 */
export function canonicalJson(value: unknown): string {
  return renderValue(value, { ancestors: [], path: [] });
}

function renderValue(value: unknown, state: WalkState): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return renderNumber(value, state);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `"${value.toString(10)}"`;
    case 'object':
      return value === null ? 'null' : renderContainer(value, state);
    case 'undefined':
    case 'function':
    case 'symbol':
      return assert.fail(`canonicalJson: ${typeof value} at ${describePath(state)} is not JSON`);
    default:
      return assert.fail(`canonicalJson: unknown type ${typeof value} at ${describePath(state)}`);
  }
}

// The checks below call assert.fail inside an if, rather than passing a message to assert.ok, so
// that the path is only rendered on failure, not for every value.

function renderNumber(value: number, state: WalkState): string {
  if (!Number.isFinite(value)) {
    assert.fail(`canonicalJson: ${value} at ${describePath(state)} is not a finite number`);
  }
  if (Object.is(value, -0)) assert.fail(`canonicalJson: -0 at ${describePath(state)} is not JSON`);
  return JSON.stringify(value);
}

function renderContainer(value: object, state: WalkState): string {
  if (state.ancestors.length >= CANONICAL_JSON_DEPTH_MAX) {
    assert.fail(
      `canonicalJson: nesting at ${describePath(state)} exceeds ${CANONICAL_JSON_DEPTH_MAX} levels`,
    );
  }
  if (state.ancestors.includes(value)) {
    assert.fail(`canonicalJson: cycle at ${describePath(state)}`);
  }
  state.ancestors.push(value);
  const text = Array.isArray(value) ? renderArray(value, state) : renderObject(value, state);
  state.ancestors.pop();
  return text;
}

function renderArray(items: readonly unknown[], state: WalkState): string {
  const parts: string[] = [];
  // A plain index loop, not map(), so that holes in sparse arrays are visited and rejected.
  for (let index = 0; index < items.length; index += 1) {
    state.path.push(index);
    parts.push(renderValue(items[index], state));
    state.path.pop();
  }
  return `[${parts.join(',')}]`;
}

function renderObject(object: object, state: WalkState): string {
  const prototype: unknown = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    const kind = Object.prototype.toString.call(object);
    assert.fail(`canonicalJson: ${kind} at ${describePath(state)} is not a plain object or array`);
  }
  const record = object as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const propertyValue = record[key];
    if (propertyValue === undefined) continue;
    state.path.push(key);
    parts.push(`${JSON.stringify(key)}:${renderValue(propertyValue, state)}`);
    state.path.pop();
  }
  return `{${parts.join(',')}}`;
}

/** Renders the path for an error message, e.g. `$.readings[3].meterId`. */
function describePath(state: WalkState): string {
  return state.path
    .map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`))
    .reduce((text, step) => text + step, '$');
}
