/**
 * A verify page of users (up to 100): each user's profile (one QueryUserInfos for the page), friend list
 * (QueryFriendList) and blocklist (QueryBlacklist), compared with staging where the ledger says they landed.
 * Lists are read only for users staged with something in them; each check writes one ledger row
 * (`profile/<user>`, `friends/<user>`, `blocks/<user>`), and a difference names relations by their source id
 * (`<user>/<friend or blocked user>`, as the friends and blocks stages record them).
 */
import { compareIds, describeIds } from '../src/verify/compare-ids';
import { ZimPermanentError } from '../src/zim-client';
import { ZIM_PAGE_LIMITS } from '../src/zim-client/limits';
import { ledgerKeys } from '../src/staging/ledger-keys';
import type { LedgerEntry, StagedUser, StagedUserRelations } from '../src/staging/migration-store';
import { scheduledRead } from './scheduled-call';
import { forEachConcurrently } from '../src/shared/for-each-concurrently';
import { readAll, refusal, VERIFY_CONCURRENCY, type Findings, type VerifyDeps } from './verify-findings';

const landed = (ledger: Map<string, LedgerEntry>, key: string) => ledger.get(key)?.status === 'done';
const relationKey = ledgerKeys.relation;

/** Field names only: a profile's values stay out of the ledger's messages. */
function profileProblems(
  user: StagedUser,
  found: { userName: string; userAvatar: string; extra: string } | undefined,
  extraSet: boolean
): string[] {
  if (!found) return ['not registered in ZIM'];
  const differs: string[] = [];
  // UserRegister sets name and avatar; ModifyUserInfo (profiles) sets Extra. Absent staged fields read back empty.
  if (found.userName !== (user.nickname ?? '')) differs.push('UserName');
  if (found.userAvatar !== (user.avatarUrl ?? '')) differs.push('UserAvatar');
  if (extraSet && found.extra !== (user.extendedData ?? '')) differs.push('Extra');
  return differs.length ? [`profile differs: ${differs.join(', ')}`] : [];
}

async function verifyProfiles(deps: VerifyDeps, findings: Findings, users: StagedUser[]): Promise<void> {
  const ids = users.map((u) => u.id);
  const accounts = await deps.store.ledgerGet('accounts', ids.map(ledgerKeys.user));
  const profiles = await deps.store.ledgerGet('profiles', ids.map(ledgerKeys.user));
  let answer;
  try {
    answer = await scheduledRead(deps.scheduler, 'QueryUserInfos', undefined, () =>
      deps.zim.queryUserInfos({ UserIds: ids })
    );
  } catch (err) {
    if (!(err instanceof ZimPermanentError)) throw err;
    answer = err;
  }
  findings.outcome.calls++;
  const found = answer instanceof ZimPermanentError ? undefined : new Map(answer.users.map((u) => [u.userId, u]));
  for (const user of users) {
    // A user whose registration failed is that stage's failure, not a finding here.
    if (!landed(accounts, ledgerKeys.user(user.id))) {
      findings.add(ledgerKeys.verifyProfile(user.id), []);
      continue;
    }
    // The profiles stage sets Extra for the users staged with some; the others' is compared with none.
    const extraSet = user.extendedData === null || landed(profiles, ledgerKeys.user(user.id));
    const problems = found
      ? profileProblems(user, found.get(user.id), extraSet)
      : [refusal(answer as ZimPermanentError)];
    findings.add(ledgerKeys.verifyProfile(user.id), problems);
  }
}

/** A user's list in ZIM against the ids expected in it (a refused read is a problem only when something was). */
function listProblems(
  user: string,
  label: string,
  expected: string[],
  listed: string[] | ZimPermanentError,
  tolerated?: Set<string>
): string[] {
  if (listed instanceof ZimPermanentError) return expected.length ? [refusal(listed)] : [];
  return describeIds(compareIds(expected, listed, tolerated), (id) => relationKey(user, id)).map(
    (p) => `${label} ${p}`
  );
}

/**
 * The user's friend list holds every friend the ledger says was added. ZIM's AddFriends is taken to be mutual
 * (zim-assumptions.md #22), so someone who added this user may be listed too; either way is accepted.
 */
async function verifyFriends(deps: VerifyDeps, findings: Findings, user: string, rel: StagedUserRelations) {
  const keys = [...rel.friends.map((f) => relationKey(user, f)), ...rel.friendOf.map((x) => relationKey(x, user))];
  const ledger = await deps.store.ledgerGet('friends', keys);
  const expected = rel.friends.filter((f) => landed(ledger, relationKey(user, f)));
  const tolerated = new Set(rel.friendOf.filter((x) => landed(ledger, relationKey(x, user))));
  const pages = await readAll(deps, findings, 'QueryFriendList', (next) =>
    deps.zim.queryFriendList({ FromUserId: user, Limit: ZIM_PAGE_LIMITS.QueryFriendList.max, Next: next })
  );
  const listed = pages instanceof ZimPermanentError ? pages : pages.flatMap((p) => p.friends.map((f) => f.userId));
  const problems = listProblems(user, 'friends', expected, listed, tolerated);
  findings.add(ledgerKeys.verifyFriends(user), problems);
}

async function verifyBlocks(deps: VerifyDeps, findings: Findings, user: string, rel: StagedUserRelations) {
  const ledger = await deps.store.ledgerGet(
    'blocks',
    rel.blocked.map((b) => relationKey(user, b))
  );
  const expected = rel.blocked.filter((b) => landed(ledger, relationKey(user, b)));
  const pages = await readAll(deps, findings, 'QueryBlacklist', (next) =>
    deps.zim.queryBlacklist({ FromUserId: user, Limit: ZIM_PAGE_LIMITS.QueryBlacklist.max, Next: next })
  );
  const listed = pages instanceof ZimPermanentError ? pages : pages.flatMap((p) => p.blocked.map((b) => b.userId));
  const problems = listProblems(user, 'blocked', expected, listed);
  findings.add(ledgerKeys.verifyBlocks(user), problems);
}

export async function verifyUsers(deps: VerifyDeps, findings: Findings, users: StagedUser[]): Promise<void> {
  await verifyProfiles(deps, findings, users);
  const relations = await deps.store.userRelations(users.map((u) => u.id));
  await forEachConcurrently([...relations], VERIFY_CONCURRENCY, async ([user, rel]) => {
    // Friend lists and blocklists spend different budgets, so one user's two reads go side by side.
    await Promise.all([
      rel.friends.length + rel.friendOf.length > 0 ? verifyFriends(deps, findings, user, rel) : undefined,
      rel.blocked.length > 0 ? verifyBlocks(deps, findings, user, rel) : undefined,
    ]);
  });
}
