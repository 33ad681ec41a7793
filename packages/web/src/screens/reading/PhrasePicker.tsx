/**
 * The phrase library (常用语) in the report's text boxes: Ctrl+Space opens the list at the
 * cursor, "/" followed by a trigger (e.g. "/wjyc") filters it as one types; ↑/↓ choose,
 * Enter or Tab inserts at the cursor (replacing the "/…" typed), Esc closes. The box also
 * inserts text from outside (a measurement) where the cursor was last.
 */
import { forwardRef, useCallback, useEffect, useImperativeHandle, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Input, Tag, Typography } from 'antd';
import type { TextAreaProps } from 'antd/es/input';
import { api } from '../../api/client.ts';
import { LIBRARY_CHANGED_EVENT, type LibraryPhrase } from '../../api/report-library.ts';
import { useT } from '../../i18n/i18n.tsx';

/** The caller's phrases (starter, institution, personal), reloaded when the library changes. */
export function usePhrases(): LibraryPhrase[] {
  const [phrases, setPhrases] = useState<LibraryPhrase[]>([]);
  useEffect(() => {
    let live = true;
    const load = () =>
      api
        .get<LibraryPhrase[]>('/api/v1/report-phrases')
        .then((list) => live && setPhrases(list))
        .catch(() => live && setPhrases([]));
    void load();
    window.addEventListener(LIBRARY_CHANGED_EVENT, load);
    return () => {
      live = false;
      window.removeEventListener(LIBRARY_CHANGED_EVENT, load);
    };
  }, []);
  return phrases;
}

/** Phrases matching what was typed after "/": exact trigger first, then trigger prefix, then text or group containing it. */
export function matchPhrases(phrases: readonly LibraryPhrase[], query: string): LibraryPhrase[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...phrases];
  const rank = (phrase: LibraryPhrase): number => {
    const trigger = phrase.trigger ?? '';
    if (trigger === q) return 0;
    if (trigger.startsWith(q)) return 1;
    if (phrase.text.toLowerCase().includes(q) || phrase.group.toLowerCase().includes(q)) return 2;
    return 9;
  };
  return phrases
    .map((phrase) => ({ phrase, rank: rank(phrase) }))
    .filter((entry) => entry.rank < 9)
    .sort((a, b) => a.rank - b.rank)
    .map((entry) => entry.phrase);
}

export interface PhraseTextAreaHandle {
  /** inserts at the cursor (or where it last was), as typed text would be */
  insert(text: string): void;
}

type Props = Omit<TextAreaProps, 'value' | 'onChange'> & {
  value: string;
  onChange: (value: string) => void;
  phrases: readonly LibraryPhrase[];
  'data-testid'?: string;
};

interface Popup {
  /** where the text the phrase replaces starts: the "/" typed, or the cursor at Ctrl+Space */
  from: number;
  slash: boolean;
  query: string;
  active: number;
}

export const PhraseTextArea = forwardRef<PhraseTextAreaHandle, Props>(function PhraseTextArea({ value, onChange, phrases, ...rest }, ref) {
  const t = useT();
  const box = useRef<HTMLDivElement>(null);
  const selection = useRef<{ start: number; end: number }>({ start: value.length, end: value.length });
  const [popup, setPopup] = useState<Popup>();
  const textarea = () => box.current?.querySelector('textarea') ?? null;
  const remember = () => {
    const element = textarea();
    if (element) selection.current = { start: element.selectionStart, end: element.selectionEnd };
  };

  const replaceRange = useCallback(
    (start: number, end: number, text: string) => {
      const next = value.slice(0, start) + text + value.slice(end);
      onChange(next);
      const caret = start + text.length;
      selection.current = { start: caret, end: caret };
      requestAnimationFrame(() => {
        const element = textarea();
        if (!element) return;
        element.focus();
        element.setSelectionRange(caret, caret);
      });
    },
    [value, onChange],
  );

  useImperativeHandle(ref, () => ({
    insert: (text: string) => {
      const { start, end } = selection.current;
      const at = Math.min(start, value.length);
      replaceRange(at, Math.min(Math.max(end, at), value.length), text);
    },
  }), [replaceRange, value.length]);

  const matches = useMemo(() => (popup ? matchPhrases(phrases, popup.query).slice(0, 12) : []), [phrases, popup]);

  const choose = (phrase: LibraryPhrase) => {
    const element = textarea();
    const caret = element?.selectionStart ?? selection.current.start;
    const start = popup ? Math.min(popup.from, caret) : caret;
    setPopup(undefined);
    replaceRange(start, caret, phrase.text);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.ctrlKey && (event.key === ' ' || event.code === 'Space')) {
      event.preventDefault();
      remember();
      setPopup({ from: textarea()?.selectionStart ?? selection.current.start, slash: false, query: '', active: 0 });
      return;
    }
    if (!popup) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      setPopup(undefined);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setPopup({ ...popup, active: matches.length ? (popup.active + step + matches.length) % matches.length : 0 });
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      const phrase = matches[popup.active];
      if (!phrase) {
        setPopup(undefined);
        return;
      }
      event.preventDefault();
      choose(phrase);
    }
  };

  // what was typed after "/" (or since Ctrl+Space) is the filter
  const onText = (next: string, caret: number) => {
    onChange(next);
    selection.current = { start: caret, end: caret };
    if (popup) {
      const typed = next.slice(popup.from + (popup.slash ? 1 : 0), caret);
      if (caret < popup.from + (popup.slash ? 1 : 0) || (popup.slash && next[popup.from] !== '/') || /\s/.test(typed)) setPopup(undefined);
      else setPopup({ ...popup, query: typed, active: 0 });
    } else if (next.length === value.length + 1 && next[caret - 1] === '/' && phrases.length > 0 && !/[A-Za-z0-9./]/.test(next[caret - 2] ?? '')) {
      // "/" opens the list at the start of a word only: "1/2", "mm/s" stay as typed
      setPopup({ from: caret - 1, slash: true, query: '', active: 0 });
    }
  };

  return (
    <div ref={box} style={{ position: 'relative' }}>
      <Input.TextArea
        {...rest}
        value={value}
        onChange={(event) => onText(event.target.value, event.target.selectionStart)}
        onKeyDown={onKeyDown}
        onKeyUp={remember}
        onClick={remember}
        onSelect={remember}
        onBlur={() => {
          remember();
          // a click on the list lands before the blur closes it
          setTimeout(() => setPopup(undefined), 150);
        }}
      />
      {popup && (
        <div className="yy-phrase-popup" role="listbox" aria-label={t('library.phrases')} data-testid="phrase-popup" style={{ position: 'absolute', insetInlineStart: 0, insetInlineEnd: 0, top: '100%', zIndex: 20, maxHeight: 260, overflowY: 'auto', background: '#fff', border: '1px solid #d9d9d9', borderRadius: 4, boxShadow: '0 6px 16px rgba(0,0,0,0.12)' }}>
          <div style={{ padding: '4px 8px', borderBottom: '1px solid #f0f0f0' }}>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {popup.query ? t('library.phraseFilter', { query: popup.query }) : t('library.phraseHint')}
            </Typography.Text>
          </div>
          {matches.length === 0 && (
            <div style={{ padding: 8 }}>
              <Typography.Text type="secondary">{t('library.noPhrases')}</Typography.Text>
            </div>
          )}
          {matches.map((phrase, index) => (
            <div
              key={phrase.id}
              role="option"
              aria-selected={index === popup.active}
              data-testid="phrase-option"
              data-trigger={phrase.trigger ?? ''}
              onMouseDown={(event) => {
                event.preventDefault();
                choose(phrase);
              }}
              style={{ padding: '4px 8px', cursor: 'pointer', background: index === popup.active ? '#e6f4ff' : undefined, display: 'flex', gap: 6, alignItems: 'baseline' }}
            >
              <Tag style={{ marginInlineEnd: 0 }}>{phrase.group}</Tag>
              {phrase.trigger && <Typography.Text code>{phrase.trigger}</Typography.Text>}
              <span style={{ whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }}>{phrase.text}</span>
            </div>
          ))}
        </div>
      )}
    </div>
  );
});
