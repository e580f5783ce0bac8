/**
 * The ZIM MessageBody for an import call (zim-api.md §7.2): `Message` is the text itself for text and
 * custom messages, and a JSON string in ZIM's media shape for image, file, audio and video.
 * The source message id is the media `Uid` (a developer-chosen id in ZIM's words).
 */
import type { MessageRecord } from './schemas';
import { ZIM_MESSAGE_TYPE } from './zim-limits';

export interface ZimMessageBody {
  Message: string;
  ExtendedData?: string;
}

export interface ZimMessageContent {
  messageType: number;
  subType: number;
  body: ZimMessageBody;
  searchedContent?: string;
}

export function toZimContent(record: MessageRecord): ZimMessageContent {
  const content = zimMessage(record);
  const body: ZimMessageBody = { Message: content.message };
  if (record.extendedData !== undefined && record.extendedData !== '') body.ExtendedData = record.extendedData;
  const out: ZimMessageContent = { messageType: ZIM_MESSAGE_TYPE[record.type], subType: content.subType, body };
  if (content.searchedContent !== undefined) out.searchedContent = content.searchedContent;
  return out;
}

function zimMessage(record: MessageRecord): { message: string; subType: number; searchedContent?: string } {
  const uid = record.id;
  switch (record.type) {
    case 'text':
      return { message: record.body.text, subType: 0 };
    case 'custom':
      return {
        message: record.body.content,
        subType: record.body.subType,
        searchedContent: record.body.searchableContent,
      };
    case 'image': {
      const b = record.body;
      return media({
        Uid: uid,
        Origin: { Url: b.url, Width: b.width ?? 0, Height: b.height ?? 0 },
        LargeImage: b.large && image(b.large),
        Thumbnail: b.thumbnail && image(b.thumbnail),
        FileName: b.fileName,
        Size: b.size ?? 0,
      });
    }
    case 'file':
      return media({ Uid: uid, Url: record.body.url, FileName: record.body.fileName, Size: record.body.size ?? 0 });
    case 'audio': {
      const b = record.body;
      return media({ Uid: uid, Url: b.url, FileName: b.fileName, Size: b.size ?? 0, MediaDuration: b.duration });
    }
    case 'video': {
      const b = record.body;
      const thumbnail = b.thumbnail && { Url: b.thumbnail.url, Width: b.thumbnail.width, Height: b.thumbnail.height };
      return media({
        Uid: uid,
        Url: b.url,
        FileName: b.fileName,
        Size: b.size ?? 0,
        MediaDuration: b.duration,
        Thumbnail: thumbnail,
      });
    }
  }
}

function image(r: { url: string; width: number; height: number }) {
  return { Url: r.url, Width: r.width, Height: r.height };
}

/** JSON.stringify drops the undefined optional parts. */
function media(value: Record<string, unknown>): { message: string; subType: number } {
  return { message: JSON.stringify(value), subType: 0 };
}
