import { SEARCH_ATTRIBUTES } from '../shared/search-attributes';
import { describeError } from './describe-error';

/**
 * A workflow start (or signal-with-start) refused for a search attribute the namespace lacks: the error, with how
 * to register zim-migrate's attributes. Any other error is returned as it is.
 */
export function withSearchAttributeHint(err: unknown, namespace: string): unknown {
  const described = describeError(err);
  if (!/search attribute/i.test(described)) return err;
  const [first, ...rest] = SEARCH_ATTRIBUTES.map((a) => a.name);
  return new Error(
    `${described}. Register zim-migrate's search attributes in namespace ${namespace} once (docs/operations.md): ` +
      `temporal operator search-attribute create --name ${first} --type Keyword; and the same for ` +
      `${rest.join(' and ')}.`,
    { cause: err }
  );
}
