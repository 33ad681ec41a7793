import { useEffect, useState } from 'react';
import { AutoComplete } from 'antd';
import { listRecognitionItems, type RecognitionItem } from '../../api/recognition.ts';

/** Longest exam item code the server takes. */
export const EXAM_ITEM_MAX_LENGTH = 64;

/**
 * An exam item: a code of the region's recognition catalogue (offered by name, e.g. 胸部CT平扫
 * (CT-CHEST)), or free text where the catalogue has none. The server reads a catalogue code
 * for its window and reference price.
 */
export function ExamItemInput({ value, onChange, testId, width }: { value?: string; onChange?: (value: string) => void; testId: string; width?: number }) {
  const [items, setItems] = useState<RecognitionItem[]>([]);
  useEffect(() => {
    let live = true;
    listRecognitionItems()
      .then((answer) => live && setItems(answer))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);
  const options = [...new Map(items.map((item) => [item.code, { value: item.code, label: `${item.name} (${item.code})` }])).values()];
  return (
    <AutoComplete
      value={value}
      onChange={onChange}
      options={options}
      maxLength={EXAM_ITEM_MAX_LENGTH}
      allowClear
      style={width ? { width } : undefined}
      filterOption={(input, option) => !!option && `${option.label}`.toLowerCase().includes(input.toLowerCase())}
      data-testid={testId}
    />
  );
}
