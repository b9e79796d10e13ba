/** The one naming rule for services named by a plural (`npm run new:service -- books`): the entity is its singular. */

/** The singular of a service's plural name: categories → category, books → book. */
export function singularOf(plural: string): string {
  if (plural.endsWith("ies")) return `${plural.slice(0, -3)}y`;
  return plural.endsWith("s") ? plural.slice(0, -1) : plural;
}
