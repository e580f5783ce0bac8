/**
 * Every ledger key, built here and only here: a key names one record of one stage, so the stage that writes it,
 * verify that reads it back and `report` that lists it must agree on its form. Keys are the records' source ids.
 */
export const ledgerKeys = {
  /** accounts and profiles: the user. */
  user: (userId: string) => userId,
  /** friends and blocks: `<user>/<friend or blocked user>`, as failures name the relation. */
  relation: (user: string, target: string) => `${user}/${target}`,
  /** peer-messages (`<owner>/<message>`, the owner's copy) and group-messages (`<group>/<message>`). */
  message: (ownerOrGroup: string, sourceId: string) => `${ownerOrGroup}/${sourceId}`,
  /** groups: a membership, the owner's included. */
  member: (groupId: string, userId: string) => `${groupId}/${userId}`,
  /** groups: a member's admin role (membership keys have one '/', roles and nicknames two). */
  role: (groupId: string, userId: string) => `role/${groupId}/${userId}`,
  /** groups: a member's nickname. */
  nickname: (groupId: string, userId: string) => `nickname/${groupId}/${userId}`,
  /** group-messages: the MuteGroup after a muted group's history. */
  mute: (groupId: string) => `mute/${groupId}`,
  /** round: a catch-up round's op on one item (round 2 and round 3 changing one profile are two operations). */
  roundOp: (round: number, op: string, target: string, key: string) =>
    target && target !== key ? `${round}/${op}/${target}/${key}` : `${round}/${op}/${key}`,
  /** read-state: a reader's conversation (`read/<user>/<peer|group>/<peer or group id>`). */
  readState: (user: string, kind: 'peer' | 'group', conv: string) => `read/${user}/${kind}/${conv}`,
  /** verify: one check each. */
  verifyConversation: (owner: string, peer: string) => `peer/${owner}/${peer}`,
  verifyGroupHistory: (groupId: string) => `group/${groupId}`,
  verifyMembers: (groupId: string) => `members/${groupId}`,
  verifyMute: (groupId: string) => `muted/${groupId}`,
  verifyProfile: (userId: string) => `profile/${userId}`,
  verifyFriends: (userId: string) => `friends/${userId}`,
  verifyBlocks: (userId: string) => `blocks/${userId}`,
};
