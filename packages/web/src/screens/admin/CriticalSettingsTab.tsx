import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, Input, Popconfirm, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { api } from '../../api/client.ts';
import { criticalApi, type CriticalCategory } from '../../api/critical-findings.ts';
import type { Institution } from '../../api/types.ts';
import { useT } from '../../i18n/i18n.tsx';

interface Contact {
  institutionId: string;
  phone: string;
  updatedBy: string;
  updatedAt: string;
}

const CODE_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * 危急值 settings (docs/critical-findings.md): the category pick list radiologists choose
 * from (replaced as a whole), and each institution's SMS phone for alerts (危急值接收电话).
 */
export function CriticalSettingsTab({ institutions }: { institutions: Institution[] }) {
  return (
    <Space direction="vertical" style={{ width: '100%' }} size={12} data-testid="critical-settings">
      <CategoriesCard />
      <ContactsCard institutions={institutions} />
    </Space>
  );
}

function CategoriesCard() {
  const t = useT();
  const { message } = App.useApp();
  const [rows, setRows] = useState<CriticalCategory[]>([]);
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    criticalApi.categories().then(setRows, (caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));
  }, [message]);
  const change = (index: number, patch: Partial<CriticalCategory>) => setRows((list) => list.map((row, i) => (i === index ? { ...row, ...patch } : row)));
  const move = (index: number, by: number) =>
    setRows((list) => {
      const next = [...list];
      const [row] = next.splice(index, 1);
      next.splice(Math.max(0, Math.min(next.length, index + by)), 0, row!);
      return next;
    });
  const invalid = rows.some((row) => !CODE_PATTERN.test(row.code) || !row.zh.trim() || !row.en.trim()) || new Set(rows.map((row) => row.code)).size !== rows.length || rows.length === 0;
  const save = async () => {
    setSaving(true);
    try {
      setRows(await api.put<CriticalCategory[]>('/api/v1/critical-findings/categories', { categories: rows.map((row) => ({ code: row.code, zh: row.zh.trim(), en: row.en.trim() })) }));
      message.success(t('critical.admin.saved'));
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setSaving(false);
    }
  };
  const columns: ColumnsType<CriticalCategory & { index: number }> = [
    { title: t('critical.admin.code'), key: 'code', width: 220, render: (_, row) => <Input size="small" value={row.code} status={CODE_PATTERN.test(row.code) ? undefined : 'error'} onChange={(event) => change(row.index, { code: event.target.value.trim() })} /> },
    { title: t('critical.admin.zh'), key: 'zh', render: (_, row) => <Input size="small" value={row.zh} maxLength={64} onChange={(event) => change(row.index, { zh: event.target.value })} /> },
    { title: t('critical.admin.en'), key: 'en', render: (_, row) => <Input size="small" value={row.en} maxLength={100} onChange={(event) => change(row.index, { en: event.target.value })} /> },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 120,
      render: (_, row) => (
        <Space size={2}>
          <Button size="small" icon={<ArrowUpOutlined />} disabled={row.index === 0} onClick={() => move(row.index, -1)} aria-label={t('critical.admin.up')} />
          <Button size="small" icon={<ArrowDownOutlined />} disabled={row.index === rows.length - 1} onClick={() => move(row.index, 1)} aria-label={t('critical.admin.down')} />
          <Button size="small" danger icon={<DeleteOutlined />} onClick={() => setRows((list) => list.filter((_, i) => i !== row.index))} aria-label={t('critical.admin.remove')} />
        </Space>
      ),
    },
  ];
  return (
    <Card
      size="small"
      title={t('critical.admin.categories')}
      extra={
        <Space>
          <Button size="small" icon={<PlusOutlined />} onClick={() => setRows((list) => [...list, { code: `custom-${list.length + 1}`, zh: '', en: '' }])}>
            {t('critical.admin.add')}
          </Button>
          <Button size="small" type="primary" loading={saving} disabled={invalid} onClick={() => void save()} data-testid="critical-categories-save">
            {t('critical.admin.save')}
          </Button>
        </Space>
      }
    >
      <Typography.Paragraph type="secondary">{t('critical.admin.categoriesHint')}</Typography.Paragraph>
      <Table rowKey="index" size="small" pagination={false} columns={columns} dataSource={rows.map((row, index) => ({ ...row, index }))} />
    </Card>
  );
}

function ContactsCard({ institutions }: { institutions: Institution[] }) {
  const t = useT();
  const { message } = App.useApp();
  const [contacts, setContacts] = useState<Contact[]>([]);
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const load = useCallback(() => {
    api.get<Contact[]>('/api/v1/critical-findings/contacts').then(setContacts, (caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));
  }, [message]);
  useEffect(load, [load]);
  const phoneOf = (id: string) => drafts[id] ?? contacts.find((contact) => contact.institutionId === id)?.phone ?? '';
  const save = async (id: string) => {
    try {
      await api.put(`/api/v1/critical-findings/contacts/${encodeURIComponent(id)}`, { phone: phoneOf(id) });
      setDrafts(({ [id]: _saved, ...rest }) => rest);
      message.success(t('critical.admin.saved'));
      load();
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    }
  };
  const remove = async (id: string) => {
    try {
      await api.delete(`/api/v1/critical-findings/contacts/${encodeURIComponent(id)}`);
      setDrafts(({ [id]: _removed, ...rest }) => rest);
      load();
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    }
  };
  const columns: ColumnsType<Institution> = [
    { title: t('critical.admin.institution'), key: 'name', render: (_, row) => row.name },
    { title: t('critical.admin.phone'), key: 'phone', width: 240, render: (_, row) => <Input size="small" value={phoneOf(row.id)} maxLength={24} onChange={(event) => setDrafts((all) => ({ ...all, [row.id]: event.target.value }))} data-testid={`critical-phone-${row.id}`} /> },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 160,
      render: (_, row) => {
        const stored = contacts.some((contact) => contact.institutionId === row.id);
        return (
          <Space size={4}>
            <Button size="small" type="primary" disabled={!phoneOf(row.id).trim()} onClick={() => void save(row.id)} data-testid={`critical-phone-save-${row.id}`}>
              {t('critical.admin.save')}
            </Button>
            {stored && (
              <Popconfirm title={t('critical.admin.removePhone')} onConfirm={() => void remove(row.id)}>
                <Button size="small" danger>
                  {t('critical.admin.remove')}
                </Button>
              </Popconfirm>
            )}
          </Space>
        );
      },
    },
  ];
  return (
    <Card size="small" title={t('critical.admin.phones')}>
      <Typography.Paragraph type="secondary">{t('critical.admin.phonesHint')}</Typography.Paragraph>
      <Table rowKey="id" size="small" pagination={{ pageSize: 20, hideOnSinglePage: true }} columns={columns} dataSource={institutions} />
    </Card>
  );
}
