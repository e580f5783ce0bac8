/**
 * Imported message content (zim-api.md §7): the checks ZIM applies on import, and the representation in which
 * QueryPeerMsg / QueryGroupMsg return a body (§7.3). Bodies are stored as imported; the output form is computed
 * when queried, so storage holds one string per body.
 */
import { z } from 'zod';
import { ZimCode } from '../zim-client/codes';
import { IMPORTABLE_MESSAGE_TYPES, ZIM_FIELD_LIMITS, type PlanLimits } from '../zim-client/limits';
import type { ImportPeerMsgRequestSchema } from '../zim-client/requests';
import { problem, utf8Bytes, type ItemProblem } from './rules';

/** Command (signaling) messages can be sent live, not imported; they follow a text message's size rule. */
export const COMMAND_MESSAGE = 2;
const MULTI_ITEM = 10;
const CUSTOM = 200;
const MEDIA_URL_BYTES = 500;
const FILE_NAME_BYTES = 150;

const url = z
  .string()
  .min(1)
  .refine((s) => utf8Bytes(s) <= MEDIA_URL_BYTES, `URL over ${MEDIA_URL_BYTES} bytes`);
const fileName = z
  .string()
  .min(1)
  .refine((s) => utf8Bytes(s) <= FILE_NAME_BYTES, `FileName over ${FILE_NAME_BYTES} bytes`);
const dimension = z.number().int().nonnegative().optional();
const picture = z.object({ Url: z.string(), Width: dimension, Height: dimension });
const file = z.object({
  Uid: z.string().optional(),
  Url: url,
  FileName: fileName,
  Size: z.number().nonnegative().optional(),
});
const media = file.extend({ MediaDuration: z.number().nonnegative().optional() });

const MEDIA_SCHEMAS = {
  11: z.object({
    Uid: z.string().optional(),
    Origin: picture.extend({ Url: url }),
    LargeImage: picture.optional(),
    Thumbnail: picture.optional(),
    FileName: fileName,
    Size: z.number().nonnegative().optional(),
  }),
  12: file,
  13: media,
  14: media.extend({
    // Width and Height must be non-zero when a thumbnail is given (§7.2).
    Thumbnail: z
      .object({ Url: url, Width: z.number().int().positive(), Height: z.number().int().positive() })
      .optional(),
  }),
} as const;

const MultiItemSchema = z.object({
  MultiMsg: z
    .array(
      z.object({
        MsgType: z.union([z.literal(1), z.literal(11), z.literal(12), z.literal(13), z.literal(14), z.literal(CUSTOM)]),
        SubMsgType: z.number().int().min(0).max(ZIM_FIELD_LIMITS.subMsgTypeMax).optional(),
        Msg: z.string(),
        SearchedContent: z.string().optional(),
      })
    )
    .min(1)
    .max(ZIM_FIELD_LIMITS.multiMsgItems),
});

type ImportedMessage = Pick<
  z.output<typeof ImportPeerMsgRequestSchema>,
  'MessageType' | 'Priority' | 'MessageBody' | 'SubMsgType' | 'SearchedContent'
>;

function parseJsonBody<T>(message: string, schema: z.ZodType<T>): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What ZIM would refuse about an imported message, if anything. */
export function messageProblem(m: ImportedMessage, limits: PlanLimits): ItemProblem | undefined {
  const type = m.MessageType;
  if (!(IMPORTABLE_MESSAGE_TYPES as readonly number[]).includes(type)) {
    return problem(ZimCode.PARAM_INVALID, `MessageType ${type} cannot be imported`);
  }
  if (![1, 2, 3].includes(m.Priority)) return problem(ZimCode.PARAM_INVALID, 'Priority must be 1, 2 or 3');
  if (type === CUSTOM && m.SubMsgType === undefined) {
    return problem(ZimCode.PARAM_INVALID, 'SubMsgType is required for custom messages');
  }
  if (m.SubMsgType !== undefined && (m.SubMsgType < 0 || m.SubMsgType > ZIM_FIELD_LIMITS.subMsgTypeMax)) {
    return problem(ZimCode.PARAM_INVALID, `SubMsgType must be in [0, ${ZIM_FIELD_LIMITS.subMsgTypeMax}]`);
  }
  const text = m.MessageBody.Message;
  if (text.length === 0) return problem(ZimCode.PARAM_INVALID, 'MessageBody.Message is empty');
  const max = type === MULTI_ITEM ? limits.maxMultiItemMessageBytes : limits.maxMessageBytes;
  if (utf8Bytes(text) > max) return problem(ZimCode.MESSAGE_TOO_LARGE, `message over ${max} bytes`);
  if (utf8Bytes(m.MessageBody.ExtendedData ?? '') > ZIM_FIELD_LIMITS.extendedDataBytes) {
    return problem(ZimCode.MESSAGE_TOO_LARGE, `ExtendedData over ${ZIM_FIELD_LIMITS.extendedDataBytes} bytes`);
  }
  if (utf8Bytes(m.SearchedContent ?? '') > ZIM_FIELD_LIMITS.searchedContentBytes) {
    return problem(ZimCode.PARAM_INVALID, `SearchedContent over ${ZIM_FIELD_LIMITS.searchedContentBytes} bytes`);
  }
  if (type === MULTI_ITEM && !parseJsonBody(text, MultiItemSchema)) {
    return problem(ZimCode.PARAM_INVALID, 'multi-item Message is not a valid MultiMsg JSON');
  }
  const mediaSchema: z.ZodType | undefined = MEDIA_SCHEMAS[type as keyof typeof MEDIA_SCHEMAS];
  if (mediaSchema && !parseJsonBody(text, mediaSchema)) {
    return problem(ZimCode.PARAM_INVALID, `Message of type ${type} is not a valid media description`);
  }
  return undefined;
}

/** The body as QueryPeerMsg/QueryGroupMsg return it (§7.3): media as URL-encoded snake_case JSON. */
export function queriedBody(msgType: number, message: string): string {
  if (msgType === MULTI_ITEM) {
    const multi = parseJsonBody(message, MultiItemSchema);
    if (!multi) return message;
    return JSON.stringify({
      multi_msg: multi.MultiMsg.map((i) => ({
        msg_type: i.MsgType,
        sub_msg_type: i.SubMsgType ?? 0,
        callback_content: i.Msg,
      })),
    });
  }
  if (msgType === 11) {
    const m = parseJsonBody(message, MEDIA_SCHEMAS[11]);
    if (!m) return message;
    return encodeURIComponent(
      JSON.stringify({
        ...fileFields(m.FileName, m.Size, m.Origin.Url),
        origin_image_width: m.Origin.Width ?? 0,
        origin_image_height: m.Origin.Height ?? 0,
        large_image_download_url: m.LargeImage?.Url ?? '',
        large_image_width: m.LargeImage?.Width ?? 0,
        large_image_height: m.LargeImage?.Height ?? 0,
        thumbnail_download_url: m.Thumbnail?.Url ?? '',
        thumbnail_width: m.Thumbnail?.Width ?? 0,
        thumbnail_height: m.Thumbnail?.Height ?? 0,
      })
    );
  }
  if (msgType === 12 || msgType === 13 || msgType === 14) {
    const m = parseJsonBody(message, MEDIA_SCHEMAS[14]);
    if (!m) return message;
    const out: Record<string, unknown> = fileFields(m.FileName, m.Size, m.Url);
    if (msgType !== 12) out.media_duration = String(m.MediaDuration ?? 0);
    if (msgType === 14) {
      out.video_first_frame_download_url = m.Thumbnail?.Url ?? '';
      out.video_first_frame_width = m.Thumbnail?.Width ?? 0;
      out.video_first_frame_height = m.Thumbnail?.Height ?? 0;
    }
    return encodeURIComponent(JSON.stringify(out));
  }
  return message;
}

function fileFields(name: string, size: number | undefined, downloadUrl: string) {
  // ZIM computes md5 of uploaded files; imports reference URLs only, so it is empty here.
  return { md5: '', file_name: name, file_size: String(size ?? 0), download_url: downloadUrl };
}
