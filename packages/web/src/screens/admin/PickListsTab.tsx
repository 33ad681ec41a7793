import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Form, Popconfirm, Select, Space, Tag, Typography } from 'antd';
import { api } from '../../api/client.ts';
import type { Institution } from '../../api/types.ts';
import { DEFAULT_BODY_PARTS, DEFAULT_MODALITIES, type PickLists } from '../../app/pick-lists.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from './refusal.ts';

const PLATFORM = '*';

/** The modality and body-part pick lists, per institution or the platform default (settings/ on the server). */
export function PickListsTab({ institutions }: { institutions: Institution[] }) {
  const t = useT();
  const codes = useCodeLabels();
  const { message } = App.useApp();
  const [scope, setScope] = useState<string>(PLATFORM);
  const [lists, setLists] = useState<PickLists>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<{ modalities: string[]; bodyParts: string[] }>();

  const load = useCallback(async () => {
    setError(undefined);
    try {
      const answer = await api.get<PickLists>('/api/v1/settings/pick-lists', { institutionId: scope });
      setLists(answer);
      form.setFieldsValue({ modalities: answer.modalities, bodyParts: answer.bodyParts });
    } catch (caught) {
      setError(refusalText(t, caught));
    }
  }, [scope, form, t]);
  useEffect(() => void load(), [load]);

  const run = async (call: () => Promise<PickLists>) => {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await call();
      setLists(answer);
      form.setFieldsValue({ modalities: answer.modalities, bodyParts: answer.bodyParts });
      message.success(t('admin.saved'));
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  const save = async () => {
    const values = await form.validateFields();
    await run(() => api.put<PickLists>('/api/v1/settings/pick-lists', { institutionId: scope, modalities: values.modalities, bodyParts: values.bodyParts }));
  };

  const bodyPartOptions = [...new Set([...DEFAULT_BODY_PARTS, ...(lists?.bodyParts ?? [])])].map((code) => ({ value: code, label: `${codes.bodyParts([code])} (${code})` }));
  const modalityOptions = [...new Set([...DEFAULT_MODALITIES, ...(lists?.modalities ?? [])])].map((code) => ({ value: code, label: code }));
  const nonEmpty = [{ required: true, type: 'array' as const, min: 1, message: t('admin.pickLists.empty') }];
  return (
    <div data-testid="pick-lists-tab" style={{ maxWidth: 900 }}>
      <Typography.Paragraph type="secondary">{t('admin.pickLists.hint')}</Typography.Paragraph>
      <Space wrap style={{ marginBottom: 12 }}>
        <span>{t('admin.pickLists.scope')}</span>
        <Select
          style={{ width: 280 }}
          value={scope}
          onChange={setScope}
          showSearch
          optionFilterProp="label"
          options={[{ value: PLATFORM, label: t('admin.pickLists.platform') }, ...institutions.map((row) => ({ value: row.id, label: row.name }))]}
          data-testid="pick-lists-scope"
        />
        {lists && <Tag color={lists.source === 'institution' ? 'blue' : undefined} data-testid="pick-lists-source">{t(`admin.pickLists.source.${lists.source}` as MessageKey)}</Tag>}
      </Space>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="pick-lists-error" />}
      <Form form={form} layout="vertical">
        <Form.Item name="modalities" label={t('admin.pickLists.modalities')} rules={nonEmpty}>
          <Select mode="tags" allowClear options={modalityOptions} tokenSeparators={[',', ' ']} data-testid="pick-lists-modalities" />
        </Form.Item>
        <Form.Item name="bodyParts" label={t('admin.pickLists.bodyParts')} rules={nonEmpty}>
          <Select mode="tags" allowClear options={bodyPartOptions} optionFilterProp="label" data-testid="pick-lists-body-parts" />
        </Form.Item>
      </Form>
      <Space>
        <Button type="primary" loading={busy} onClick={() => void save()} data-testid="pick-lists-save">
          {t('app.save')}
        </Button>
        {scope !== PLATFORM && lists?.source === 'institution' && (
          <Popconfirm title={t('admin.pickLists.reset')} onConfirm={() => void run(() => api.delete<PickLists>(`/api/v1/settings/pick-lists/${encodeURIComponent(scope)}`))}>
            <Button data-testid="pick-lists-reset">{t('admin.pickLists.reset')}</Button>
          </Popconfirm>
        )}
      </Space>
    </div>
  );
}
