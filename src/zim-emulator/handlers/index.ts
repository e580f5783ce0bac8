/** Every emulated Action and its handler. */
import type { ZimAction } from '../../zim-client/actions';
import type { Handler } from './context';
import { clearConversationUnread, queryConversationList } from './conversations';
import {
  createGroup,
  dismissGroup,
  inviteUsersIntoGroup,
  kickoutGroupUser,
  modifyGroupAttribute,
  muteGroup,
  queryGroupInfo,
  queryGroupMemberList,
  setGroupMemberRole,
  setGroupMembersNickname,
  transferGroupOwner,
  updateGroupData,
} from './groups';
import { importGroupMsg, importPeerMsg, queryGroupMsg, queryPeerMsg } from './messages';
import { sendGroupMessage, sendPeerMessage } from './sends';
import {
  addFriends,
  addUsersToBlacklist,
  deleteFriends,
  queryBlacklist,
  queryFriendList,
  removeUsersFromBlacklist,
} from './relations';
import { modifyUserInfo, queryUserInfos, userRegister } from './users';

export const HANDLERS: { [A in ZimAction]: Handler<A> } = {
  UserRegister: userRegister,
  ModifyUserInfo: modifyUserInfo,
  AddFriends: addFriends,
  AddUsersToBlacklist: addUsersToBlacklist,
  ImportPeerMsg: importPeerMsg,
  CreateGroup: createGroup,
  InviteUsersIntoGroup: inviteUsersIntoGroup,
  KickoutGroupUser: kickoutGroupUser,
  SetGroupMemberRole: setGroupMemberRole,
  SetGroupMembersNickname: setGroupMembersNickname,
  ImportGroupMsg: importGroupMsg,
  QueryPeerMsg: queryPeerMsg,
  QueryGroupMsg: queryGroupMsg,
  QueryUserInfos: queryUserInfos,
  QueryFriendList: queryFriendList,
  QueryBlacklist: queryBlacklist,
  QueryGroupMemberList: queryGroupMemberList,
  QueryConversationList: queryConversationList,
  ClearConversationUnread: clearConversationUnread,
  SendPeerMessage: sendPeerMessage,
  SendGroupMessage: sendGroupMessage,
  DismissGroup: dismissGroup,
  MuteGroup: muteGroup,
  QueryGroupInfo: queryGroupInfo,
  DeleteFriends: deleteFriends,
  RemoveUsersFromBlacklist: removeUsersFromBlacklist,
  UpdateGroupData: updateGroupData,
  ModifyGroupAttribute: modifyGroupAttribute,
  TransferGroupOwner: transferGroupOwner,
};

export type { Handler, HandlerContext } from './context';
