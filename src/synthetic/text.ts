/**
 * Chat-like text in several scripts (Latin, CJK, Cyrillic, Devanagari, and right-to-left Arabic and
 * Hebrew) with emoji, so that byte limits, UTF-8 handling and search see what real apps send.
 */
import type { Rng } from './random';

interface Locale {
  words: readonly string[];
  /** Scripts written without spaces between words. */
  joiner: string;
  names: readonly string[];
}

export const LOCALES: Record<string, Locale> = {
  en: {
    words: [
      'hey',
      'ok',
      'see',
      'you',
      'tomorrow',
      'lunch',
      'meeting',
      'thanks',
      'where',
      'are',
      'the',
      'photos',
      'call',
      'me',
      'later',
      'sure',
      'great',
      'news',
      'on',
      'my',
      'way',
    ],
    joiner: ' ',
    names: ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi'],
  },
  es: {
    words: ['hola', 'qué', 'tal', 'nos', 'vemos', 'mañana', 'gracias', 'dónde', 'estás', 'vale', 'perfecto', 'llámame'],
    joiner: ' ',
    names: ['José', 'Lucía', 'Martín', 'Sofía', 'Íñigo'],
  },
  zh: {
    words: ['你好', '明天', '见', '谢谢', '我们', '吃饭', '开会', '照片', '在哪里', '好的', '没问题', '路上'],
    joiner: '',
    names: ['王伟', '李娜', '张敏', '刘洋', '陈静'],
  },
  ja: {
    words: ['こんにちは', 'ありがとう', '明日', '会議', 'どこ', 'ですか', '写真', '了解', 'またね', '今から'],
    joiner: '',
    names: ['佐藤', '鈴木', '高橋', '田中', 'さくら'],
  },
  ko: {
    words: ['안녕하세요', '내일', '봐요', '고마워요', '어디', '있어요', '사진', '좋아요', '회의'],
    joiner: ' ',
    names: ['김민준', '이서연', '박지훈'],
  },
  ar: {
    words: ['مرحبا', 'شكرا', 'غدا', 'أين', 'أنت', 'الصور', 'اجتماع', 'حسنا', 'في', 'الطريق'],
    joiner: ' ',
    names: ['محمد', 'فاطمة', 'أحمد', 'ليلى'],
  },
  he: {
    words: ['שלום', 'תודה', 'מחר', 'איפה', 'אתה', 'תמונות', 'פגישה', 'בסדר', 'בדרך'],
    joiner: ' ',
    names: ['נועה', 'דוד', 'יעל'],
  },
  ru: {
    words: ['привет', 'спасибо', 'завтра', 'где', 'ты', 'фото', 'встреча', 'хорошо', 'уже', 'еду'],
    joiner: ' ',
    names: ['Иван', 'Мария', 'Алексей', 'Ольга'],
  },
  hi: {
    words: ['नमस्ते', 'धन्यवाद', 'कल', 'मिलते', 'हैं', 'कहाँ', 'हो', 'फोटो', 'ठीक', 'है'],
    joiner: ' ',
    names: ['आरव', 'सिया', 'विवान'],
  },
};
export const LOCALE_NAMES = Object.keys(LOCALES);

const EMOJI = ['😀', '😂', '👍', '🙏', '❤️', '🎉', '🔥', '😅', '👨‍👩‍👧', '🇯🇵', '🤔', '✅'];

export function phrase(rng: Rng, locale: string, maxWords = 12): string {
  const l = LOCALES[locale] ?? LOCALES.en!;
  const n = rng.powerLaw(1, maxWords, 1.5);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(rng.pick(l.words));
  let text = words.join(l.joiner);
  if (rng.chance(0.25)) text += (l.joiner || '') + rng.pick(EMOJI);
  if (rng.chance(0.05)) text = rng.pick(EMOJI) + rng.pick(EMOJI);
  return text;
}

export function personName(rng: Rng, locale: string): string {
  return rng.pick((LOCALES[locale] ?? LOCALES.en!).names);
}
