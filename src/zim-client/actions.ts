/**
 * The ZIM server API Actions this project speaks, with the wire facts both the client and the emulator need:
 * HTTP method (§1) and the name of the partial-success list, which differs per endpoint (§9.4).
 */

export type FailureListField = 'ErrorList' | 'ErrList' | 'ErrorUsers';

export interface ActionSpec {
  method: 'GET' | 'POST';
  /** Name of the per-item failure list in the response, for batch endpoints. */
  failureList?: FailureListField;
  /** Changes state (commit-then-drop faults apply only to these). */
  mutates: boolean;
}

export const ZIM_ACTIONS = {
  UserRegister: { method: 'POST', failureList: 'ErrorList', mutates: true },
  ModifyUserInfo: { method: 'POST', failureList: 'ErrorList', mutates: true },
  AddFriends: { method: 'POST', failureList: 'ErrorList', mutates: true },
  AddUsersToBlacklist: { method: 'POST', failureList: 'ErrList', mutates: true },
  ImportPeerMsg: { method: 'POST', mutates: true },
  CreateGroup: { method: 'POST', failureList: 'ErrorUsers', mutates: true },
  InviteUsersIntoGroup: { method: 'POST', failureList: 'ErrorUsers', mutates: true },
  KickoutGroupUser: { method: 'POST', failureList: 'ErrorList', mutates: true },
  SetGroupMemberRole: { method: 'GET', mutates: true },
  SetGroupMembersNickname: { method: 'POST', failureList: 'ErrorUsers', mutates: true },
  ImportGroupMsg: { method: 'POST', mutates: true },
  QueryPeerMsg: { method: 'POST', mutates: false },
  QueryGroupMsg: { method: 'POST', mutates: false },
  QueryUserInfos: { method: 'POST', failureList: 'ErrorList', mutates: false },
  QueryFriendList: { method: 'GET', mutates: false },
  QueryBlacklist: { method: 'GET', mutates: false },
  QueryGroupMemberList: { method: 'POST', mutates: false },
  QueryConversationList: { method: 'POST', mutates: false },
  ClearConversationUnread: { method: 'GET', mutates: true },
  // Live sends and group teardown (coexistence.md §2): not used by the history import.
  SendPeerMessage: { method: 'POST', failureList: 'ErrorList', mutates: true },
  SendGroupMessage: { method: 'POST', mutates: true },
  DismissGroup: { method: 'GET', mutates: true },
  // Frozen source channels (docs/import-format.md `muted`): after the group's history; verify reads it back.
  MuteGroup: { method: 'GET', mutates: true },
  QueryGroupInfo: { method: 'POST', mutates: false },
  // Catch-up rounds (issue #13): what changed after the bulk import.
  DeleteFriends: { method: 'POST', failureList: 'ErrorList', mutates: true },
  RemoveUsersFromBlacklist: { method: 'POST', failureList: 'ErrList', mutates: true },
  UpdateGroupData: { method: 'POST', mutates: true },
  // Per-key failures come back in FailKeys as {Key, Reason}, not the {UserId, SubCode} lists above.
  ModifyGroupAttribute: { method: 'POST', mutates: true },
  TransferGroupOwner: { method: 'GET', mutates: true },
} as const satisfies Record<string, ActionSpec>;

export type ZimAction = keyof typeof ZIM_ACTIONS;

export const ZIM_ACTION_NAMES = Object.keys(ZIM_ACTIONS) as ZimAction[];

export function isZimAction(name: string): name is ZimAction {
  return Object.hasOwn(ZIM_ACTIONS, name);
}

export function actionSpec(action: ZimAction): ActionSpec {
  return ZIM_ACTIONS[action];
}
