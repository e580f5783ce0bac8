/** ZIM's group member roles (zim-api.md §5b): the owner, an administrator, a plain member. */
export const ZIM_ROLE = { owner: 1, admin: 2, member: 3 } as const;
