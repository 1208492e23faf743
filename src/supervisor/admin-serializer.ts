// Serializes admin answers by their response schema without trusting the types in it.
//
// Operation documents are the platform's data, and MongoDB holds whatever was written:
// `desired_state.size` may be 123, `replicas` "5" or 1.5. fast-json-stringify (Fastify's
// default) throws on a value outside a union type (a 500 for reading a document) and
// silently rewrites others (1.5 declared integer answers 1, an object declared string
// "[object Object]"). The admin API answers what is stored instead: the schema only decides
// which fields may appear. A property is kept when its object schema declares it or allows
// additional properties, at any depth; values are written as JSON.stringify writes them.

type Schema = {
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
};

/** A serializer for one response schema: the declared fields of the answer, as JSON. */
export function storedValueSerializer(schema: unknown): (data: unknown) => string {
  return (data) => JSON.stringify(declaredOnly(schema as Schema, data), jsonSafe) ?? 'null';
}

/** `value` without the properties its schema does not declare, at any depth. */
export function declaredOnly(schema: Schema | undefined, value: unknown): unknown {
  if (!schema || value === null || typeof value !== 'object' || value instanceof Date) {
    return value;
  }
  if (Array.isArray(value)) {
    return schema.items ? value.map((item) => declaredOnly(schema.items, item)) : value;
  }
  const { properties } = schema;
  if (!properties) return value;
  const extra = schema.additionalProperties;
  const kept: Array<[string, unknown]> = [];
  for (const [key, inner] of Object.entries(value)) {
    // Own properties only: a stored key named `constructor` is not declared by Object.prototype.
    if (Object.hasOwn(properties, key)) kept.push([key, declaredOnly(properties[key], inner)]);
    // fast-json-stringify's rule, kept: without additionalProperties, undeclared keys go.
    else if (extra)
      kept.push([key, typeof extra === 'object' ? declaredOnly(extra, inner) : inner]);
  }
  // fromEntries defines `__proto__` as a plain key rather than setting the prototype.
  return Object.fromEntries(kept);
}

/** JSON has no BigInt; a stored 64-bit integer is answered as its decimal digits. */
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
