/**
 * How the page stages cut the staged data into numbered pages, one ZIM call each (verify: a few reads per owner or
 * group): the same for every engine, since a page number is what a workflow hands an activity.
 */
import { ZIM_BATCH_LIMITS } from '../zim-client/limits';

export const PAGE_SIZE = {
  /** Users per UserRegister; verify's user pages are these pages too (QueryUserInfos takes as many). */
  accounts: ZIM_BATCH_LIMITS.UserRegister.max,
  /** Users with extended data per ModifyUserInfo. */
  profiles: ZIM_BATCH_LIMITS.ModifyUserInfo.max,
  /** One user's friendships per AddFriends. */
  friends: ZIM_BATCH_LIMITS.AddFriends.max,
  /** One user's blocks per AddUsersToBlacklist. */
  blocks: ZIM_BATCH_LIMITS.AddUsersToBlacklist.max,
  /** Read states per read-state page: one ClearConversationUnread each (it takes one conversation). */
  readStates: 20,
  /** Owners or groups per verify page: each is several reads, eight at a time. */
  verify: 20,
} as const;
