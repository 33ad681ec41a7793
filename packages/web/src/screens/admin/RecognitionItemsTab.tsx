import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Switch, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { PlusOutlined } from '@ant-design/icons';
import { deleteRecognitionItem, listRecognitionItems, saveRecognitionItem, type RecognitionItem } from '../../api/recognition.ts';
import { usePickLists } from '../../app/pick-lists.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT } from '../../i18n/i18n.tsx';
import { refusalText } from './refusal.ts';

const CODE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** the server's catalogue for every region (recognition-records.ts DEFAULT_REGION): an item saved without a region goes there */
const DEFAULT_REGION = 'default';
/** institution grades: 一级, 二级, 三级 */
const GRADES = [1, 2, 3];

interface ItemForm {
  region?: string;
  code: string;
  name: string;
  modality: string;
  bodyPart?: string | null;
  windowDays: number;
  minInstitutionGrade?: number | null;
  requireSignedReport: boolean;
  referencePriceYuan?: number | null;
}

/** 互认项目: the region's catalogue of recognisable exam items and their rules (GET/PUT/DELETE /api/v1/recognition-items). */
export function RecognitionItemsTab() {
  const t = useT();
  const codes = useCodeLabels();
  const { message } = App.useApp();
  const [region, setRegion] = useState('');
  const [items, setItems] = useState<RecognitionItem[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string>();
  /** the item being edited; null: a new one; undefined: no dialog */
  const [editing, setEditing] = useState<RecognitionItem | null>();

  const load = useCallback(async () => {
    try {
      setItems(await listRecognitionItems(region.trim() || undefined));
      setError(undefined);
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setLoading(false);
    }
  }, [region, t]);
  useEffect(() => void load(), [load]);

  const remove = async (item: RecognitionItem) => {
    try {
      await deleteRecognitionItem(item.code, item.region);
      message.success(t('admin.deleted'));
      await load();
    } catch (caught) {
      message.error(refusalText(t, caught));
    }
  };

  const columns: ColumnsType<RecognitionItem> = [
    { title: t('recognitionItems.region'), dataIndex: 'region', width: 110, render: (value: string) => (value === DEFAULT_REGION ? t('recognitionItems.defaultRegion') : <span data-identifier>{value}</span>) },
    { title: t('recognitionItems.code'), dataIndex: 'code', width: 150, render: (value: string) => <Typography.Text code>{value}</Typography.Text> },
    { title: t('recognitionItems.name'), dataIndex: 'name', ellipsis: true },
    { title: t('recognitionItems.modality'), dataIndex: 'modality', width: 80 },
    { title: t('recognitionItems.bodyPart'), dataIndex: 'bodyPart', width: 100, render: (value: string | null) => (value ? codes.bodyParts([value]) : <Typography.Text type="secondary">{t('recognitionItems.anyBodyPart')}</Typography.Text>) },
    { title: t('recognitionItems.windowDays'), dataIndex: 'windowDays', width: 100 },
    { title: t('recognitionItems.minGrade'), dataIndex: 'minInstitutionGrade', width: 110, render: (value: number | null) => (value ? t('recognitionItems.gradeValue', { grade: value }) : '') },
    { title: t('recognitionItems.requireSignedReport'), dataIndex: 'requireSignedReport', width: 110, render: (value: boolean) => t(value ? 'app.yes' : 'app.no') },
    { title: t('recognitionItems.price'), dataIndex: 'referencePriceYuan', width: 110, render: (value: number | null) => (value === null ? '' : value.toFixed(2)) },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 140,
      render: (_, item) => (
        <Space size={4}>
          <Button size="small" onClick={() => setEditing(item)} data-testid={`edit-recognition-item-${item.code}`}>
            {t('app.edit')}
          </Button>
          <Popconfirm title={t('admin.confirmDelete')} onConfirm={() => void remove(item)}>
            <Button size="small" danger data-testid={`delete-recognition-item-${item.code}`}>
              {t('app.delete')}
            </Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];
  return (
    <div data-testid="recognition-items-tab">
      <Typography.Paragraph type="secondary">{t('recognitionItems.hint')}</Typography.Paragraph>
      <Space wrap style={{ marginBottom: 8 }}>
        <Input allowClear placeholder={t('recognitionItems.region')} aria-label={t('recognitionItems.region')} style={{ width: 180 }} value={region} maxLength={32} onChange={(event) => setRegion(event.target.value)} data-testid="recognition-items-region" />
        <Button type="primary" size="small" icon={<PlusOutlined />} onClick={() => setEditing(null)} data-testid="create-recognition-item">
          {t('recognitionItems.add')}
        </Button>
      </Space>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="recognition-items-error" />}
      <Table<RecognitionItem>
        rowKey={(item) => `${item.region}/${item.code}`}
        size="small"
        loading={loading}
        columns={columns}
        dataSource={items}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        scroll={{ x: 1100 }}
        onRow={(item) => ({ 'data-item-code': item.code, 'data-region': item.region }) as React.HTMLAttributes<HTMLTableRowElement>}
        data-testid="recognition-items-table"
      />
      {editing !== undefined && (
        <RecognitionItemDialog
          item={editing}
          defaultRegion={region.trim()}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            message.success(t('admin.saved'));
            void load();
          }}
        />
      )}
    </div>
  );
}

function RecognitionItemDialog({ item, defaultRegion, onClose, onSaved }: { item: RecognitionItem | null; defaultRegion: string; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const codes = useCodeLabels();
  const pickLists = usePickLists();
  const [form] = Form.useForm<ItemForm>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const save = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      await saveRecognitionItem({
        region: values.region?.trim() || DEFAULT_REGION,
        code: values.code.trim(),
        name: values.name.trim(),
        modality: values.modality,
        bodyPart: values.bodyPart ?? null,
        windowDays: values.windowDays,
        minInstitutionGrade: values.minInstitutionGrade ?? null,
        requireSignedReport: values.requireSignedReport,
        referencePriceYuan: values.referencePriceYuan ?? null,
      });
      onSaved();
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  const required = { required: true, message: t('admin.required') };
  return (
    <Modal open title={item ? `${t('recognitionItems.edit')} · ${item.code}` : t('recognitionItems.add')} onCancel={onClose} onOk={() => void save()} confirmLoading={busy} okButtonProps={{ 'data-testid': 'recognition-item-ok' } as Record<string, string>}>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="recognition-item-error" />}
      <Form<ItemForm> form={form} layout="vertical" initialValues={item ? { ...item, region: item.region === DEFAULT_REGION ? undefined : item.region } : { region: defaultRegion || undefined, windowDays: 30, requireSignedReport: true }} data-testid="recognition-item-form">
        <Space wrap align="start">
          <Form.Item name="region" label={t('recognitionItems.region')} tooltip={t('recognitionItems.regionHint')}>
            <Input maxLength={32} disabled={!!item} placeholder={t('recognitionItems.defaultRegion')} data-testid="recognition-item-region" />
          </Form.Item>
          <Form.Item name="code" label={t('recognitionItems.code')} rules={[required, { pattern: CODE_PATTERN, message: t('recognitionItems.invalidCode') }]}>
            <Input maxLength={64} disabled={!!item} data-testid="recognition-item-code" />
          </Form.Item>
        </Space>
        <Form.Item name="name" label={t('recognitionItems.name')} rules={[required, { whitespace: true, message: t('admin.required') }]}>
          <Input maxLength={128} data-testid="recognition-item-name" />
        </Form.Item>
        <Space wrap align="start">
          <Form.Item name="modality" label={t('recognitionItems.modality')} rules={[required]}>
            <Select showSearch style={{ width: 120 }} options={pickLists.modalities.map((code) => ({ value: code, label: code }))} data-testid="recognition-item-modality" />
          </Form.Item>
          <Form.Item name="bodyPart" label={t('recognitionItems.bodyPart')}>
            <Select allowClear showSearch optionFilterProp="label" style={{ width: 160 }} placeholder={t('recognitionItems.anyBodyPart')} options={pickLists.bodyParts.map((code) => ({ value: code, label: codes.bodyParts([code]) }))} data-testid="recognition-item-body-part" />
          </Form.Item>
        </Space>
        <Space wrap align="start">
          <Form.Item name="windowDays" label={t('recognitionItems.windowDays')} rules={[required]}>
            <InputNumber min={1} max={3650} precision={0} data-testid="recognition-item-window-days" />
          </Form.Item>
          <Form.Item name="minInstitutionGrade" label={t('recognitionItems.minGrade')}>
            <Select allowClear style={{ width: 120 }} options={GRADES.map((grade) => ({ value: grade, label: t('recognitionItems.gradeValue', { grade }) }))} data-testid="recognition-item-min-grade" />
          </Form.Item>
          <Form.Item name="referencePriceYuan" label={t('recognitionItems.price')}>
            <InputNumber min={0} max={1_000_000} precision={2} data-testid="recognition-item-price" />
          </Form.Item>
        </Space>
        <Form.Item name="requireSignedReport" label={t('recognitionItems.requireSignedReport')} valuePropName="checked">
          <Switch data-testid="recognition-item-signed-report" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
