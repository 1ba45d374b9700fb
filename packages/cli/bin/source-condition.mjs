// Module resolution hook (node:module `register`) used by bin/cacheplane.js in a checkout of the
// repository: adds the `@cacheplane/source` export condition, so `@cacheplane/*` imports resolve to
// the packages' TypeScript sources, as `node --conditions=@cacheplane/source` would.
const SOURCE_CONDITION = "@cacheplane/source";

export async function resolve(specifier, context, nextResolve) {
  if (context.conditions.includes(SOURCE_CONDITION)) return nextResolve(specifier, context);
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, SOURCE_CONDITION] });
}
