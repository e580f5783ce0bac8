/**
 * ZIM's documented call budgets (zim-api.md §1): 20 calls/s per Action per app, with a few exceptions. `perKey`
 * budgets apply per group rather than per app. The operator can change any budget while a migration runs.
 */
export interface Budget {
  /** Calls per second. */
  rate: number;
  /** The budget applies per group (the call's key), not per app. */
  perKey?: boolean;
}

export const DEFAULT_RATE = 20;

export const DEFAULT_BUDGETS: Readonly<Record<string, Budget>> = {
  InviteUsersIntoGroup: { rate: 1, perKey: true },
  SetGroupMembersNickname: { rate: 1, perKey: true },
  TransferGroupOwner: { rate: 1, perKey: true },
  DismissGroup: { rate: 1, perKey: true },
  QueryAppGroupList: { rate: 1 },
  SendGroupMessage: { rate: 10 },
};

export function defaultBudget(action: string): Budget {
  return DEFAULT_BUDGETS[action] ?? { rate: DEFAULT_RATE };
}
