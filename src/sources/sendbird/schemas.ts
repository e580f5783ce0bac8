/**
 * Sendbird's shapes as we read them (Platform API answers and export-job files, source-formats.md §1), in zod:
 * loose objects (Sendbird adds fields over time; what we do not map is ignored, not an error), with the fields we
 * map typed. Times are checked as numbers here and normalised to ms in time.ts.
 */
import { z } from 'zod';

const epoch = z.number({ error: 'expected a Unix time as a number (seconds or ms)' });

export const sbUser = z.looseObject({
  user_id: z.string().min(1),
  nickname: z.string().nullish(),
  profile_url: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  is_active: z.boolean().nullish(),
  created_at: epoch.nullish(),
});
export type SbUser = z.infer<typeof sbUser>;

/** A channel member: the API and the messages file say nickname/profile_url, the channels file name/image. */
export const sbMember = z.looseObject({
  user_id: z.string().min(1),
  nickname: z.string().nullish(),
  name: z.string().nullish(),
  role: z.string().nullish(),
  state: z.string().nullish(),
  is_active: z.boolean().nullish(),
});
export type SbMember = z.infer<typeof sbMember>;

export const sbChannel = z.looseObject({
  channel_url: z.string().min(1),
  name: z.string().nullish(),
  cover_url: z.string().nullish(),
  custom_type: z.string().nullish(),
  data: z.string().nullish(),
  created_at: epoch.nullish(),
  is_distinct: z.boolean().nullish(),
  is_super: z.boolean().nullish(),
  freeze: z.boolean().nullish(),
  member_count: z.number().nullish(),
  members: z.array(sbMember).nullish(),
  operators: z.array(z.looseObject({ user_id: z.string().min(1) })).nullish(),
  created_by: z.looseObject({ user_id: z.string() }).nullish(),
  /** user_id → last-read time (ms): listed with show_read_receipt=true, also in export files; none for supergroups. */
  read_receipt: z.record(z.string(), epoch).nullish(),
});
export type SbChannel = z.infer<typeof sbChannel>;

export const sbFile = z.looseObject({
  url: z.string().nullish(),
  name: z.string().nullish(),
  file_name: z.string().nullish(),
  size: z.number().nullish(),
  file_size: z.number().nullish(),
  type: z.string().nullish(),
  file_type: z.string().nullish(),
  require_auth: z.boolean().nullish(),
  thumbnails: z
    .array(z.looseObject({ url: z.string().nullish(), width: z.number().nullish(), height: z.number().nullish() }))
    .nullish(),
});
export type SbFile = z.infer<typeof sbFile>;

export const sbMessage = z.looseObject({
  message_id: z.number().int(),
  type: z.string(),
  message: z.string().nullish(),
  data: z.string().nullish(),
  custom_type: z.string().nullish(),
  created_at: epoch,
  is_removed: z.boolean().nullish(),
  user: z.looseObject({ user_id: z.string().nullish(), nickname: z.string().nullish() }).nullish(),
  file: z.union([sbFile, z.object({}).loose()]).nullish(),
  files: z.array(sbFile).nullish(),
});
export type SbMessage = z.infer<typeof sbMessage>;

// Platform API answers.
export const usersPage = z.looseObject({ users: z.array(sbUser), next: z.string().nullish() });
export const channelsPage = z.looseObject({ channels: z.array(sbChannel), next: z.string().nullish() });
export const membersPage = z.looseObject({ members: z.array(sbMember), next: z.string().nullish() });
export const operatorsPage = z.looseObject({
  operators: z.array(z.looseObject({ user_id: z.string().min(1) })),
  next: z.string().nullish(),
});
export const messagesPage = z.looseObject({ messages: z.array(sbMessage) });
export const blocksPage = z.looseObject({
  users: z.array(z.looseObject({ user_id: z.string().min(1) })),
  next: z.string().nullish(),
});
/** Sendbird's error body: `{"error":true,"message":"…","code":400xxx}`. */
export const sbError = z.looseObject({ message: z.string().optional(), code: z.number().optional() });

/** A data export job (source-formats.md §1.1 A, "Export job resource"): `file` only once it is done. */
export const sbExportJob = z.looseObject({
  request_id: z.string().min(1),
  status: z.string().min(1),
  start_ts: z.number().nullish(),
  end_ts: z.number().nullish(),
  format: z.string().nullish(),
  file: z.looseObject({ url: z.string().min(1), expires_at: z.number().nullish() }).nullish(),
});
export type SbExportJob = z.infer<typeof sbExportJob>;
export const exportJobsPage = z.looseObject({ exported_data: z.array(sbExportJob), next: z.string().nullish() });
