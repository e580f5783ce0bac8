import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZimCode } from '../../src/zim-client/codes';
import { ZIM_PLANS } from '../../src/zim-client/limits';
import { messageProblem, queriedBody } from '../../src/zim-emulator/message-body';

const limits = ZIM_PLANS.pro;
const message = (MessageType: number, Message: string, extra: object = {}) => ({
  MessageType,
  Priority: 1,
  MessageBody: { Message } as { Message: string; ExtendedData?: string },
  ...extra,
});
const image = JSON.stringify({
  Origin: { Url: 'https://x/a.png', Width: 10, Height: 20 },
  FileName: 'a.png',
  Size: 99,
});
const video = JSON.stringify({
  Url: 'https://x/v.mp4',
  FileName: 'v.mp4',
  Size: 5,
  MediaDuration: 3,
  Thumbnail: { Url: 'https://x/t.png', Width: 4, Height: 3 },
});

describe('imported message rules (zim-api.md §7)', () => {
  const refused: Array<[string, ReturnType<typeof message>, number]> = [
    ['signaling type 2', message(2, 'x'), ZimCode.PARAM_INVALID],
    ['priority 4', { ...message(1, 'x'), Priority: 4 }, ZimCode.PARAM_INVALID],
    ['custom without SubMsgType', message(200, 'x'), ZimCode.PARAM_INVALID],
    ['SubMsgType 201', message(200, 'x', { SubMsgType: 201 }), ZimCode.PARAM_INVALID],
    ['empty text', message(1, ''), ZimCode.PARAM_INVALID],
    ['text over 2 KB', message(1, 'x'.repeat(2049)), ZimCode.MESSAGE_TOO_LARGE],
    ['multi-item over 5 KB', message(10, 'x'.repeat(5121)), ZimCode.MESSAGE_TOO_LARGE],
    ['multi-item that is not MultiMsg JSON', message(10, '{"x":1}'), ZimCode.PARAM_INVALID],
    ['image without Origin', message(11, JSON.stringify({ FileName: 'a' })), ZimCode.PARAM_INVALID],
    ['file that is not JSON', message(12, 'not json'), ZimCode.PARAM_INVALID],
    ['video thumbnail with zero width', message(14, video.replace('"Width":4', '"Width":0')), ZimCode.PARAM_INVALID],
    [
      'ExtendedData over 1 KB',
      { ...message(1, 'x'), MessageBody: { Message: 'x', ExtendedData: 'e'.repeat(1025) } },
      ZimCode.MESSAGE_TOO_LARGE,
    ],
    [
      'SearchedContent over 64 B',
      message(200, 'x', { SubMsgType: 1, SearchedContent: 's'.repeat(65) }),
      ZimCode.PARAM_INVALID,
    ],
  ];
  for (const [name, m, code] of refused) {
    it(`refuses ${name} with ${code}`, () => assert.equal(messageProblem(m, limits)?.code, code));
  }

  it('accepts every importable type at its size limit', () => {
    assert.equal(messageProblem(message(1, 'é'.repeat(1024)), limits), undefined);
    assert.equal(messageProblem(message(200, 'x', { SubMsgType: 0 }), limits), undefined);
    assert.equal(messageProblem(message(11, image), limits), undefined);
    assert.equal(messageProblem(message(14, video), limits), undefined);
    const multi = JSON.stringify({
      MultiMsg: [
        { MsgType: 1, Msg: 'a' },
        { MsgType: 11, SubMsgType: 0, Msg: image },
      ],
    });
    assert.equal(messageProblem(message(10, multi), limits), undefined);
    assert.equal(messageProblem(message(1, 'x'.repeat(4000)), { ...limits, maxMessageBytes: 4096 }), undefined);
  });

  it('returns text and custom bodies unchanged', () => {
    assert.equal(queriedBody(1, 'hello'), 'hello');
    assert.equal(queriedBody(200, '{"a":1}'), '{"a":1}');
  });

  it('returns media as URL-encoded snake_case JSON (§7.3)', () => {
    assert.deepEqual(JSON.parse(decodeURIComponent(queriedBody(11, image))), {
      md5: '',
      file_name: 'a.png',
      file_size: '99',
      download_url: 'https://x/a.png',
      origin_image_width: 10,
      origin_image_height: 20,
      large_image_download_url: '',
      large_image_width: 0,
      large_image_height: 0,
      thumbnail_download_url: '',
      thumbnail_width: 0,
      thumbnail_height: 0,
    });
    assert.deepEqual(JSON.parse(decodeURIComponent(queriedBody(14, video))), {
      md5: '',
      file_name: 'v.mp4',
      file_size: '5',
      download_url: 'https://x/v.mp4',
      media_duration: '3',
      video_first_frame_download_url: 'https://x/t.png',
      video_first_frame_width: 4,
      video_first_frame_height: 3,
    });
  });

  it('returns multi-item messages as multi_msg', () => {
    const multi = JSON.stringify({
      MultiMsg: [
        { MsgType: 1, Msg: 'a' },
        { MsgType: 200, SubMsgType: 7, Msg: 'c' },
      ],
    });
    assert.deepEqual(JSON.parse(queriedBody(10, multi)), {
      multi_msg: [
        { msg_type: 1, sub_msg_type: 0, callback_content: 'a' },
        { msg_type: 200, sub_msg_type: 7, callback_content: 'c' },
      ],
    });
  });
});
