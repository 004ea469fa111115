/**
 * A deep copy of a session, as the engine takes one before it changes anything (engine.ts
 * `advance`), and a gather's write starts from (twilio/step-routes.ts callStep). A session is JSON data (it is read from its stored JSON, or built from the flow's),
 * plain objects, arrays, strings, numbers, booleans, null, and keys left undefined (assigned so
 * that the merge over the stored session clears them: runner.ts settleInto). Copied here by
 * hand: structuredClone serialises the object and reads it back through V8's serializer, some
 * forty thousand instructions for a session, about a twentieth of a gather's webhook.
 */
export function copySession<T>(value: T): T {
  return copy(value) as T;
}

function copy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(copy);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = copy((v as Record<string, unknown>)[k]);
  return out;
}
