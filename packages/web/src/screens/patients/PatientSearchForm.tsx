import { useState } from 'react';
import { Button, DatePicker, Form, Input, Segmented, Space } from 'antd';
import { SearchOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import type { PatientSearch } from '../../api/recognition.ts';
import { checkedResidentId } from '../../app/resident-id.ts';
import { useT } from '../../i18n/i18n.tsx';

type Mode = 'nationalId' | 'name';

/** Search a person of the region: by resident ID (exact), or by name (hanzi or pinyin) and birth date. */
export function PatientSearchForm({ busy, onSearch }: { busy: boolean; onSearch: (search: PatientSearch) => void }) {
  const t = useT();
  const [mode, setMode] = useState<Mode>('nationalId');
  const [form] = Form.useForm<{ nationalId?: string; name?: string; birthDate?: Dayjs }>();
  const submit = async () => {
    const values = await form.validateFields();
    if (mode === 'nationalId') onSearch({ nationalId: checkedResidentId(values.nationalId ?? '')! });
    else onSearch({ name: (values.name ?? '').trim(), birthDate: values.birthDate!.format('YYYYMMDD') });
  };
  return (
    <Space direction="vertical" size="small" style={{ width: '100%' }} data-testid="patient-search">
      <Segmented<Mode>
        value={mode}
        onChange={setMode}
        options={[
          { value: 'nationalId', label: <span data-testid="search-mode-national-id">{t('patients.byNationalId')}</span> },
          { value: 'name', label: <span data-testid="search-mode-name">{t('patients.byName')}</span> },
        ]}
      />
      <Form form={form} layout="inline" onFinish={() => void submit()}>
        {mode === 'nationalId' ? (
          <Form.Item name="nationalId" label={t('patients.nationalId')} rules={[{ validator: async (_, value: string | undefined) => { if (!checkedResidentId(value ?? '')) throw new Error(t('patients.nationalIdInvalid')); } }]}>
            <Input allowClear maxLength={18} style={{ width: 240 }} autoComplete="off" data-testid="search-national-id" />
          </Form.Item>
        ) : (
          <>
            <Form.Item name="name" label={t('patients.name')} rules={[{ required: true, whitespace: true, message: t('admin.required') }]}>
              <Input allowClear maxLength={64} placeholder={t('patients.namePlaceholder')} style={{ width: 180 }} data-testid="search-name" />
            </Form.Item>
            <Form.Item name="birthDate" label={t('patients.birthDate')} rules={[{ required: true, message: t('admin.required') }]}>
              <DatePicker format="YYYY-MM-DD" data-testid="search-birth-date" />
            </Form.Item>
          </>
        )}
        <Form.Item>
          <Button type="primary" htmlType="submit" icon={<SearchOutlined />} loading={busy} data-testid="search-submit">
            {t('patients.search')}
          </Button>
        </Form.Item>
      </Form>
    </Space>
  );
}
