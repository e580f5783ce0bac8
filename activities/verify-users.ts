/**
 * A verify page of users (up to 100): each user's profile (one QueryUserInfos for the page), friend list
 * (QueryFriendList) and blocklist (QueryBlacklist), compared with staging where the ledger says they landed.
 * Lists are read only for users staged with something in them; each check writes one ledger row
 * (`profile/<user>`, `friends/<user>`, `blocks/<user>`), and a difference names relations by their source id
 * (`<user>/<friend or blocked user>`, as the friends and blocks stages record them).
 */
import { compareIds, describeIds } from '../src/verify/compare-ids';
import { ZimPermanentError } from '../src/zim-client';
import type { MigrationData, StagedUser, StagedUserRelations } from './migration-data';
import { scheduledRead } from './scheduled-call';
import { forEachConcurrently } from '../src/shared/for-each-concurrently';
import { readAll, refusal, VERIFY_CONCURRENCY, type Findings, type VerifyDeps } from './verify-findings';

const LIST_PAGE = 100;

type Ledger = Awaited<ReturnType<MigrationData['ledgerGet']>>;
const landed = (ledger: Ledger, key: string) => ledger.get(key)?.status === 'done';
const relationKey = (owner: string, target: string) => `${owner}/${target}`;

/** Field names only: a profile's values stay out of the ledger's messages. */
function profileProblems(
  user: StagedUser,
  found: { userName: string; userAvatar: string; extra: string } | undefined,
  profileLanded: boolean
): string[] {
  if (!found) return ['not registered in ZIM'];
  const differs: string[] = [];
  // UserRegister sets name and avatar; ModifyUserInfo (profiles) sets Extra. Absent staged fields read back empty.
  if (found.userName !== (user.nickname ?? '')) differs.push('UserName');
  if (found.userAvatar !== (user.avatarUrl ?? '')) differs.push('UserAvatar');
  if (profileLanded && found.extra !== (user.extendedData ?? '')) differs.push('Extra');
  return differs.length ? [`profile differs: ${differs.join(', ')}`] : [];
}

async function verifyProfiles(deps: VerifyDeps, findings: Findings, users: StagedUser[]): Promise<void> {
  const ids = users.map((u) => u.userId);
  const accounts = await deps.data.ledgerGet('accounts', ids);
  const profiles = await deps.data.ledgerGet('profiles', ids);
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
    if (!landed(accounts, user.userId)) {
      findings.add(`profile/${user.userId}`, user.userId, []);
      continue;
    }
    const problems = found
      ? profileProblems(user, found.get(user.userId), landed(profiles, user.userId))
      : [refusal(answer as ZimPermanentError)];
    findings.add(`profile/${user.userId}`, user.userId, problems);
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
  const ledger = await deps.data.ledgerGet('friends', keys);
  const expected = rel.friends.filter((f) => landed(ledger, relationKey(user, f)));
  const tolerated = new Set(rel.friendOf.filter((x) => landed(ledger, relationKey(x, user))));
  const pages = await readAll(deps, findings, 'QueryFriendList', (next) =>
    deps.zim.queryFriendList({ FromUserId: user, Limit: LIST_PAGE, Next: next })
  );
  const listed = pages instanceof ZimPermanentError ? pages : pages.flatMap((p) => p.friends.map((f) => f.userId));
  const problems = listProblems(user, 'friends', expected, listed, tolerated);
  findings.add(`friends/${user}`, user, problems);
}

async function verifyBlocks(deps: VerifyDeps, findings: Findings, user: string, rel: StagedUserRelations) {
  const ledger = await deps.data.ledgerGet(
    'blocks',
    rel.blocked.map((b) => relationKey(user, b))
  );
  const expected = rel.blocked.filter((b) => landed(ledger, relationKey(user, b)));
  const pages = await readAll(deps, findings, 'QueryBlacklist', (next) =>
    deps.zim.queryBlacklist({ FromUserId: user, Limit: LIST_PAGE, Next: next })
  );
  const listed = pages instanceof ZimPermanentError ? pages : pages.flatMap((p) => p.blocked.map((b) => b.userId));
  const problems = listProblems(user, 'blocked', expected, listed);
  findings.add(`blocks/${user}`, user, problems);
}

export async function verifyUsers(deps: VerifyDeps, findings: Findings, users: StagedUser[]): Promise<void> {
  await verifyProfiles(deps, findings, users);
  const relations = await deps.data.userRelations(users.map((u) => u.userId));
  await forEachConcurrently([...relations], VERIFY_CONCURRENCY, async ([user, rel]) => {
    // Friend lists and blocklists spend different budgets, so one user's two reads go side by side.
    await Promise.all([
      rel.friends.length + rel.friendOf.length > 0 ? verifyFriends(deps, findings, user, rel) : undefined,
      rel.blocked.length > 0 ? verifyBlocks(deps, findings, user, rel) : undefined,
    ]);
  });
}
