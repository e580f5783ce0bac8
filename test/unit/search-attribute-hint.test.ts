import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withSearchAttributeHint } from '../../src/cli/search-attribute-hint';

describe('the search attribute hint', () => {
  it('tells how to register every attribute when a start is refused for one the namespace lacks', () => {
    const refused = new Error('3 INVALID_ARGUMENT: Namespace default has no mapping defined for search attribute X');
    const hinted = withSearchAttributeHint(refused, 'acme-ns') as Error;
    assert.match(
      hinted.message,
      /^3 INVALID_ARGUMENT: .*search attribute X\. Register zim-migrate's search attributes/
    );
    assert.match(hinted.message, /in namespace acme-ns once/);
    assert.match(hinted.message, /search-attribute create --name ZimMigrationId --type Keyword/);
    assert.match(hinted.message, /ZimMigrationStage and ZimMigrationStatus and ZimCoexistSync and ZimCoexistStatus\.$/);
    assert.equal(hinted.cause, refused);
  });

  it('leaves any other error as it is', () => {
    const other = new Error('Channel has been shut down');
    assert.equal(withSearchAttributeHint(other, 'default'), other);
  });
});
