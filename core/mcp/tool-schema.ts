/**
 * An MCP tool's input schema (any JSON Schema) reduced to the subset node-llama-cpp turns into a GBNF grammar:
 * primitive types, enum/const, oneOf, strings with a length or a date format, objects and arrays. What the subset
 * cannot say (ranges, patterns, $ref, allOf) is dropped or said in the description: the grammar only shapes the
 * call, the server still validates it. An optional property becomes nullable (the grammar makes the model write
 * every property, as the skills' schemas do) and nulls are removed again before the call (withoutNulls).
 */

type Json = Record<string, unknown>;
const PRIMITIVES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
/** Nested objects deeper than this become strings: deep schemas cost context and rarely help a voice request. */
const MAX_DEPTH = 3;
const MAX_PROPERTY_DESCRIPTION = 80;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The schema of an object's arguments for node-llama-cpp, or undefined when the tool takes none. */
export function grammarSchema(input: unknown): Json | undefined {
  if (!isObject(input) || !isObject(input.properties) || Object.keys(input.properties).length === 0) return undefined;
  return reduceObject(input, 0);
}

function reduceObject(schema: Json, depth: number): Json {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : []);
  const reduced: Json = {};
  for (const [key, value] of Object.entries(properties)) {
    const property = reduce(value, depth + 1);
    reduced[key] = required.has(key) ? property : nullable(property);
  }
  return { type: 'object', properties: reduced, ...(describe(schema) ?? {}) };
}

function reduce(schema: unknown, depth: number): Json {
  if (!isObject(schema)) return { type: 'string' };
  const description = describe(schema);
  const withDescription = (reduced: Json): Json => ({ ...reduced, ...(description ?? {}) });
  if ('const' in schema && isPrimitiveValue(schema.const)) return withDescription({ const: schema.const });
  if (Array.isArray(schema.enum)) {
    const values = schema.enum.filter(isPrimitiveValue);
    if (values.length > 0) return withDescription({ enum: values });
  }
  const alternatives = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (alternatives) {
    const nonNull = alternatives.filter((a) => !(isObject(a) && a.type === 'null'));
    if (nonNull.length === 1) return withDescription(alternatives.length > 1 ? nullable(reduce(nonNull[0], depth)) : reduce(nonNull[0], depth));
    return withDescription({ oneOf: alternatives.slice(0, 6).map((a) => reduce(a, depth)) });
  }
  const type = schema.type;
  if (Array.isArray(type)) {
    const primitives = type.filter((t): t is string => typeof t === 'string' && PRIMITIVES.has(t));
    if (primitives.length === type.length && primitives.length > 0) return withDescription({ type: primitives });
    const other = type.find((t) => t === 'array' || t === 'object');
    const reduced = reduce({ ...schema, type: other }, depth);
    return type.includes('null') ? nullable(reduced) : reduced;
  }
  switch (type) {
    case 'string': {
      const format = schema.format === 'date-time' || schema.format === 'date' || schema.format === 'time' ? { format: schema.format } : {};
      const lengths = Object.keys(format).length ? {} : pick(schema, ['minLength', 'maxLength']);
      return withDescription({ type: 'string', ...format, ...lengths });
    }
    case 'number':
    case 'integer':
      return { type, ...(describe(schema, range(schema)) ?? {}) };
    case 'boolean':
    case 'null':
      return withDescription({ type });
    case 'array':
      return withDescription({ type: 'array', items: reduce(schema.items, depth), ...pick(schema, ['minItems', 'maxItems']) });
    case 'object':
      if (depth >= MAX_DEPTH || !isObject(schema.properties)) return withDescription({ type: 'string' });
      return reduceObject(schema, depth);
    default:
      // No type, $ref, allOf…: a string, which the server validates.
      return withDescription({ type: 'string' });
  }
}

/** `reduced` or null. */
function nullable(reduced: Json): Json {
  if (typeof reduced.type === 'string' && PRIMITIVES.has(reduced.type)) return reduced.type === 'null' ? reduced : { ...reduced, type: [reduced.type, 'null'] };
  if (Array.isArray(reduced.type)) return reduced.type.includes('null') ? reduced : { ...reduced, type: [...reduced.type, 'null'] };
  if (Array.isArray(reduced.enum)) return reduced.enum.includes(null) ? reduced : { ...reduced, enum: [...reduced.enum, null] };
  const { description, ...rest } = reduced;
  return { oneOf: [rest, { type: 'null' }], ...(typeof description === 'string' ? { description } : {}) };
}

function describe(schema: Json, extra?: string): { description: string } | undefined {
  const own = typeof schema.description === 'string' ? schema.description.replace(/\s+/g, ' ').trim() : '';
  const text = [own, extra].filter(Boolean).join(' ');
  if (!text) return undefined;
  return { description: text.length > MAX_PROPERTY_DESCRIPTION ? `${text.slice(0, MAX_PROPERTY_DESCRIPTION - 1)}…` : text };
}

function range(schema: Json): string | undefined {
  const min = typeof schema.minimum === 'number' ? schema.minimum : undefined;
  const max = typeof schema.maximum === 'number' ? schema.maximum : undefined;
  if (min !== undefined && max !== undefined) return `(${min} to ${max})`;
  if (min !== undefined) return `(at least ${min})`;
  if (max !== undefined) return `(at most ${max})`;
  return undefined;
}

function pick(schema: Json, keys: readonly string[]): Json {
  return Object.fromEntries(keys.filter((k) => typeof schema[k] === 'number').map((k) => [k, schema[k]]));
}

function isPrimitiveValue(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** The arguments without the nulls the grammar made the model write for properties it meant to leave out. */
export function withoutNulls(args: unknown): Record<string, unknown> {
  if (!isObject(args)) return {};
  return Object.fromEntries(Object.entries(args).filter(([, value]) => value !== null));
}
