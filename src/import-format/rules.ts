/**
 * Every check the validator makes, with its severity and the fix an operator applies.
 * An error blocks the migration (ZIM would refuse the record or the data is ambiguous); a warning is
 * something the operator decides about (e.g. history older than the plan's retention, which ZIM refuses).
 * docs/import-format.md lists these same ids; a unit test keeps the two in step.
 */
export type Severity = 'error' | 'warning';

export interface Rule {
  severity: Severity;
  summary: string;
  fix: string;
}

/** The entity files an export directory holds (docs/import-format.md#files). */
export const ACCEPTED_FILES =
  'users, friends, blocks, groups, group_members, peer_messages, group_messages, read_states (.ndjson or .ndjson.gz)';

export const RULES = {
  'dir.unreadable': {
    severity: 'error',
    summary: 'The export directory does not exist or cannot be read.',
    fix: 'Pass the path of a directory that holds the export files.',
  },
  'file.missing-users': {
    severity: 'error',
    summary: 'The export has no users file; every other entity refers to users.',
    fix: 'Add users.ndjson (or users.ndjson.gz) to the export directory.',
  },
  'file.unknown': {
    severity: 'warning',
    summary: 'A file whose name is not one of the entity files; it is not read.',
    fix: `Rename it to one of ${ACCEPTED_FILES}, optionally with a part suffix such as peer_messages.001.ndjson.gz, or move it out.`,
  },
  'file.empty': {
    severity: 'warning',
    summary: 'The file holds no records.',
    fix: 'Check that the export finished; remove the file if the entity really has no data.',
  },
  'file.bom': {
    severity: 'warning',
    summary: 'The file starts with a UTF-8 byte-order mark; it is ignored.',
    fix: 'Nothing to do; exporters may omit the BOM.',
  },
  'file.crlf': {
    severity: 'warning',
    summary: 'The file uses CRLF line endings; they are read as LF.',
    fix: 'Nothing to do; exporters may write LF line endings.',
  },
  'file.gzip-corrupt': {
    severity: 'error',
    summary: 'The gzip stream is truncated or corrupt; records after the damage are missing.',
    fix: 'Re-export or re-compress the file (gzip -t FILE tests it); the lines before the damage were read.',
  },
  'file.unreadable': {
    severity: 'error',
    summary: 'The file could not be read.',
    fix: 'Check the permissions and the disk; the message names the system error.',
  },
  'line.too-long': {
    severity: 'error',
    summary: 'A line longer than 1 MiB; no importable record is that large.',
    fix: 'Check the exporter: a record is probably missing its line break, or a body embeds binary data (host media and reference it by URL).',
  },
  'line.invalid-utf8': {
    severity: 'error',
    summary: 'The line is not valid UTF-8.',
    fix: 'Export text as UTF-8 (convert legacy encodings such as GBK or Latin-1 with iconv).',
  },
  'line.invalid-json': {
    severity: 'error',
    summary: 'The line is not valid JSON.',
    fix: 'Write one complete JSON object per line (NDJSON); the message gives the parser error.',
  },
  'line.not-object': {
    severity: 'error',
    summary: 'The line is JSON but not an object.',
    fix: 'Write one JSON object per line, not arrays or bare values.',
  },
  'line.forbidden-key': {
    severity: 'error',
    summary: 'The record has a "__proto__", "constructor" or "prototype" key, which is never data.',
    fix: 'Remove the key; rename it if it carries real data.',
  },
  'record.schema': {
    severity: 'error',
    summary: 'A field is missing, has the wrong type or value, or is not part of the format.',
    fix: 'Correct the field as docs/import-format.md describes for this file; the message names the field.',
  },
  'id.invalid': {
    severity: 'error',
    summary: 'A user or group id is empty, longer than 32 bytes or uses characters ZIM does not accept.',
    fix: 'ZIM ids are 1-32 bytes of digits, letters, space and !#$%&()+-:;<=.>?@[]^_{}|~; map the legacy ids to such ids before export.',
  },
  'id.group-hash': {
    severity: 'error',
    summary: 'A group id starts with "#", which ZIM reserves for ids it generates.',
    fix: "Rename the group id, or use --group-id-prefix APP=PREFIX to prefix this app's group ids.",
  },
  'message.type': {
    severity: 'error',
    summary: 'A message type that the ZIM import APIs do not accept.',
    fix: 'Use text, image, file, audio, video or custom; convert signaling or other legacy types to custom with a subType, or leave them out.',
  },
  'time.seconds': {
    severity: 'error',
    summary: 'A numeric time before 1973, which is almost certainly seconds, not milliseconds.',
    fix: 'Give epoch times in milliseconds (multiply seconds by 1000), or as ISO-8601 with an offset.',
  },
  'time.future': {
    severity: 'error',
    summary: 'A time after now (the --as-of time); ZIM refuses it.',
    fix: "Correct the time in the source; check the exporter's time zone handling.",
  },
  'time.retention': {
    severity: 'warning',
    summary: "A message older than the ZIM plan's history retention; ZIM refuses it, so it is staged but not imported.",
    fix: 'Accept that it is not migrated, or buy longer retention from ZEGO and pass --retention-days N.',
  },
  'size.field': {
    severity: 'error',
    summary: 'A field is longer than ZIM accepts.',
    fix: 'Shorten the field in the source; the message names the field and its limit.',
  },
  'size.message': {
    severity: 'error',
    summary: "A message's MessageBody.Message is larger than the configured limit (2 KB by default).",
    fix: 'Shorten the message, or have ZEGO raise the limit (up to 32 KB) and pass --message-bytes N.',
  },
  'size.user-extra': {
    severity: 'error',
    summary: "A user's extended data is larger than the configured limit (2 KB by default).",
    fix: 'Shorten it, or have ZEGO raise the limit (up to 32 KB) and pass --user-extra-bytes N.',
  },
  'friend.attributes': {
    severity: 'error',
    summary: "Friend attributes break ZIM's rule: keys k0..k4 only, at most 1024 bytes of keys and values together.",
    fix: 'Rename the keys to k0..k4 and shorten the values.',
  },
  'group.attributes': {
    severity: 'error',
    summary: "Group attributes break ZIM's rule: at most 10, keys ≤ 16 bytes, values ≤ 1024 bytes.",
    fix: 'Drop or shorten attributes in the source.',
  },
  'relation.self': {
    severity: 'error',
    summary: 'A user befriends, blocks or messages themselves; ZIM refuses it.',
    fix: 'Remove the record.',
  },
  'message.deleted-by': {
    severity: 'error',
    summary: 'deletedBy names a user who is not a participant of the message.',
    fix: "deletedBy may only list the message's from and to users.",
  },
  'member.role': {
    severity: 'error',
    summary: 'A member has role "owner" but is not the group\'s owner.',
    fix: "Make the group record's owner and the member roles agree (exactly one owner, named on the group).",
  },
  'ref.unknown-user': {
    severity: 'error',
    summary: 'The record names a user who is not in any users file (or whose user record was rejected).',
    fix: 'Export the user, or remove the record; a user record rejected for another reason is listed separately.',
  },
  'ref.unknown-group': {
    severity: 'error',
    summary: "The record names a group that is not in this app's groups file (or whose group record was rejected).",
    fix: 'Export the group, or remove the record.',
  },
  'ref.unknown-message': {
    severity: 'error',
    summary:
      'A read state names a last-read message that is not a message of that conversation (or whose record was rejected).',
    fix: 'Name the id of a message in the peer_messages or group_messages file between the reader and that peer, or of that group.',
  },
  'ref.not-member': {
    severity: 'error',
    summary: 'A read state of a group names a reader who is not a member of the group.',
    fix: 'Export the membership, or remove the read state.',
  },
  'read.partial': {
    severity: 'warning',
    summary:
      'A read position before newer messages from others: ZIM can only mark a whole conversation read (ClearConversationUnread), so this one is not imported.',
    fix: 'Nothing to do: the conversation keeps the unread count the import left (docs/import-format.md#read_statesndjson).',
  },
  'dup.id': {
    severity: 'error',
    summary: 'Two records of one app share an id; which one is right is ambiguous.',
    fix: 'Keep one record per id; the message names the other line.',
  },
  'dup.relation': {
    severity: 'warning',
    summary:
      'A friendship, block, membership or read state repeats within one app; the first is kept (ZIM fails a repeated import).',
    fix: 'Nothing to do unless the two records disagree; the message names the line that is kept.',
  },
  'merge.group-collision': {
    severity: 'error',
    summary: 'The same group id appears in two apps; groups never merge.',
    fix: 'Pass --group-id-prefix APP=PREFIX for one of the apps so that its group ids become distinct.',
  },
  'merge.message-id-collision': {
    severity: 'error',
    summary: 'Two different messages from different apps share a source id.',
    fix: 'Pass --message-id-prefix APP=PREFIX for one of the apps so that its source ids become distinct.',
  },
  'cap.group-members': {
    severity: 'error',
    summary: 'A group has more members than the ZIM plan allows; ZIM refuses the extra members.',
    fix: 'Have ZEGO raise the member limit and pass --max-group-members N, or reduce the group.',
  },
  'cap.friends': {
    severity: 'error',
    summary: 'A user has more friends than the ZIM plan allows.',
    fix: 'Have ZEGO raise the limit and pass --max-friends N, or reduce the friend list.',
  },
  'cap.blocks': {
    severity: 'error',
    summary: 'A user blocks more users than ZIM allows (1000 by default).',
    fix: 'Have ZEGO raise the limit and pass --max-blocks N, or reduce the blocklist.',
  },
  'cap.users': {
    severity: 'error',
    summary: 'More users than the ZIM plan allows.',
    fix: 'Choose a larger plan (--zim-plan pro).',
  },
  'cap.groups': {
    severity: 'error',
    summary: 'More groups than the ZIM plan allows.',
    fix: 'Choose a larger plan (--zim-plan pro).',
  },
} as const satisfies Record<string, Rule>;

export type RuleId = keyof typeof RULES;

export function isRuleId(value: string): value is RuleId {
  return Object.hasOwn(RULES, value);
}
