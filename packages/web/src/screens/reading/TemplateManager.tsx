/**
 * The report library (模板与常用语, issue 14 item 7): report templates by modality and body
 * part, and the phrase library, in three scopes — the starter set (read-only, copied to make
 * one's own), the institution's (kept by the reading centre's lead or an administrator) and
 * one's own. A page (/templates) and a drawer the report editor opens.
 */
import { useCallback, useEffect, useMemo, useState, type HTMLAttributes } from 'react';
import { App, Button, Card, Drawer, Form, Input, Modal, Popconfirm, Radio, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import type { ButtonProps } from 'antd';
import { BookOutlined, PlusOutlined } from '@ant-design/icons';
import { usePickLists } from '../../app/pick-lists.ts';
import { api, type Query } from '../../api/client.ts';
import { LIBRARY_CHANGED_EVENT, type LibraryPhrase, type LibraryScope, type LibraryTemplate } from '../../api/report-library.ts';
import { useI18n, useT, type MessageKey } from '../../i18n/i18n.tsx';
import { bodyPartLabel } from '../../i18n/codes.ts';
import { useUser } from '../../app/auth.tsx';
import type { Institution } from '../../api/types.ts';

/** roles holding templates:manage (productivity/module.ts) */
const MANAGERS = ['reviewing-radiologist', 'administrator'];

const announce = () => window.dispatchEvent(new Event(LIBRARY_CHANGED_EVENT));

const errorText = (caught: unknown) => (caught instanceof Error ? caught.message : String(caught));

/**
 * One tab's entries (templates or phrases): the list from `path`, a change to it (told as
 * `done`, then the list reloaded and the editor's pickers told), and who may edit an entry.
 */
function useLibraryEntries<T extends { scope: LibraryScope }>(path: string, query: Query) {
  const t = useT();
  const user = useUser();
  const { message } = App.useApp();
  const [entries, setEntries] = useState<T[]>();
  const mayManage = MANAGERS.includes(user.role);
  const queryKey = JSON.stringify(query);
  const load = useCallback(() => {
    api
      .get<T[]>(path, JSON.parse(queryKey) as Query)
      .then(setEntries)
      .catch((caught: unknown) => message.error(errorText(caught)));
  }, [path, queryKey, message]);
  useEffect(load, [load]);
  const change = async (action: () => Promise<unknown>, done: MessageKey, after?: () => void): Promise<void> => {
    try {
      await action();
      message.success(t(done));
      after?.();
      announce();
      load();
    } catch (caught) {
      message.error(errorText(caught));
    }
  };
  const editable = (entry: T) => entry.scope === 'personal' || (entry.scope === 'institution' && mayManage);
  return { entries, mayManage, change, editable };
}

function ScopeTag({ scope }: { scope: LibraryScope }) {
  const t = useT();
  const color = scope === 'personal' ? 'blue' : scope === 'institution' ? 'green' : 'default';
  return (
    <Tag color={color} data-testid="library-scope" data-scope={scope}>
      {t(`library.scope.${scope}` as MessageKey)}
    </Tag>
  );
}

/** The administrator's modality and body-part pick lists (settings/pick-lists) as options; body parts in the UI's language (codes stay the values). */
function usePickListOptions() {
  const { locale } = useI18n();
  const { modalities, bodyParts } = usePickLists();
  return useMemo(() => ({ modalities: modalities.map((m) => ({ value: m, label: m })), bodyParts: bodyParts.map((code) => ({ value: code, label: bodyPartLabel(code, locale) })) }), [locale, modalities, bodyParts]);
}

interface TemplateForm {
  scope: 'personal' | 'institution';
  modality: string;
  bodyPart: string;
  name: string;
  findings: string;
  impression: string;
}

function TemplatesTab({ defaults, institutionId }: { defaults?: { modality?: string | null; bodyPart?: string }; institutionId?: string }) {
  const t = useT();
  const { locale } = useI18n();
  const { modalities, bodyParts } = usePickListOptions();
  const [modality, setModality] = useState<string | undefined>(defaults?.modality ?? undefined);
  const [editing, setEditing] = useState<{ id?: string; initial: TemplateForm }>();
  const [form] = Form.useForm<TemplateForm>();
  const { entries: templates, mayManage, change, editable } = useLibraryEntries<LibraryTemplate>('/api/v1/report-templates', { modality, institutionId });

  const open = (template?: LibraryTemplate, copy = false) => {
    const initial: TemplateForm = template
      ? { scope: !copy && template.scope === 'institution' ? 'institution' : 'personal', modality: template.modality, bodyPart: template.bodyPart, name: copy ? t('library.copyName', { name: template.name }) : template.name, findings: template.findings, impression: template.impression }
      : { scope: 'personal', modality: modality ?? defaults?.modality ?? 'CT', bodyPart: defaults?.bodyPart ?? 'CHEST', name: '', findings: '', impression: '' };
    setEditing({ id: copy ? undefined : template?.id, initial });
    form.setFieldsValue(initial);
  };

  const save = async () => {
    const values = await form.validateFields();
    await change(
      async () => {
        if (editing?.id) {
          const { scope: _scope, ...fields } = values;
          await api.put(`/api/v1/report-templates/${editing.id}`, fields);
        } else {
          await api.post('/api/v1/report-templates', { ...values, ...(values.scope === 'institution' && institutionId ? { institutionId } : {}) });
        }
      },
      'library.saved',
      () => setEditing(undefined),
    );
  };

  const remove = (template: LibraryTemplate) => change(() => api.delete(`/api/v1/report-templates/${template.id}`), 'library.deleted');

  return (
    <>
      <Space wrap style={{ marginBottom: 8 }}>
        <Select allowClear style={{ width: 160 }} placeholder={t('library.allModalities')} value={modality} onChange={setModality} options={modalities} data-testid="library-modality-filter" />
        <Button type="primary" icon={<PlusOutlined />} onClick={() => open()} data-testid="new-template">
          {t('library.newTemplate')}
        </Button>
      </Space>
      <Table<LibraryTemplate>
        size="small"
        rowKey="id"
        loading={!templates}
        dataSource={templates}
        pagination={{ pageSize: 10, hideOnSinglePage: true }}
        data-testid="template-table"
        onRow={(record) => ({ 'data-testid': 'template-row', 'data-template-id': record.id }) as HTMLAttributes<HTMLElement>}
        columns={[
          { key: 'scope', title: t('library.scope'), width: 100, render: (_, record) => <ScopeTag scope={record.scope} /> },
          { key: 'modality', title: t('worklist.modality'), dataIndex: 'modality', width: 80 },
          { key: 'bodyPart', title: t('library.bodyPart'), width: 100, render: (_, record) => bodyPartLabel(record.bodyPart, locale) },
          { key: 'name', title: t('library.name'), dataIndex: 'name', render: (name: string, record) => <Typography.Text title={record.findings}>{name}</Typography.Text> },
          {
            key: 'actions',
            title: t('library.actions'),
            width: 200,
            render: (_, record) => (
              <Space size={4} wrap>
                {editable(record) && (
                  <Button size="small" onClick={() => open(record)} data-testid="edit-template">
                    {t('library.edit')}
                  </Button>
                )}
                <Button size="small" onClick={() => open(record, true)} data-testid="copy-template">
                  {t('library.copy')}
                </Button>
                {editable(record) && (
                  <Popconfirm title={t('library.confirmDelete')} onConfirm={() => void remove(record)}>
                    <Button size="small" danger data-testid="delete-template">
                      {t('library.delete')}
                    </Button>
                  </Popconfirm>
                )}
              </Space>
            ),
          },
        ]}
      />
      <Modal open={Boolean(editing)} title={editing?.id ? t('library.editTemplate') : t('library.newTemplate')} onOk={() => void save()} onCancel={() => setEditing(undefined)} okButtonProps={{ 'data-testid': 'save-template' } as ButtonProps} width={720} destroyOnHidden forceRender>
        <Form form={form} layout="vertical" initialValues={editing?.initial}>
          <Form.Item name="scope" label={t('library.scope')}>
            <Radio.Group disabled={Boolean(editing?.id)} data-testid="template-scope">
              <Radio value="personal">{t('library.scope.personal')}</Radio>
              {mayManage && <Radio value="institution">{t('library.scope.institution')}</Radio>}
            </Radio.Group>
          </Form.Item>
          <Space wrap>
            <Form.Item name="modality" label={t('worklist.modality')} rules={[{ required: true }]}>
              <Select style={{ width: 140 }} options={modalities} data-testid="template-modality" />
            </Form.Item>
            <Form.Item name="bodyPart" label={t('library.bodyPart')} rules={[{ required: true }]}>
              <Select style={{ width: 180 }} showSearch optionFilterProp="label" options={bodyParts} data-testid="template-body-part" />
            </Form.Item>
          </Space>
          <Form.Item name="name" label={t('library.name')} rules={[{ required: true, message: t('library.nameRequired') }]}>
            <Input maxLength={100} data-testid="template-name" />
          </Form.Item>
          <Form.Item name="findings" label={t('reading.findings')}>
            <Input.TextArea autoSize={{ minRows: 4, maxRows: 10 }} maxLength={20000} data-testid="template-findings" />
          </Form.Item>
          <Form.Item name="impression" label={t('reading.impression')}>
            <Input.TextArea autoSize={{ minRows: 2, maxRows: 6 }} maxLength={8000} data-testid="template-impression" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}

interface PhraseForm {
  scope: 'personal' | 'institution';
  group: string;
  trigger: string;
  text: string;
}

function PhrasesTab({ institutionId }: { institutionId?: string }) {
  const t = useT();
  const [editing, setEditing] = useState<{ id?: string; initial: PhraseForm }>();
  const [form] = Form.useForm<PhraseForm>();
  const { entries: phrases, mayManage, change, editable } = useLibraryEntries<LibraryPhrase>('/api/v1/report-phrases', { institutionId });

  const open = (phrase?: LibraryPhrase, copy = false) => {
    const initial: PhraseForm = phrase ? { scope: !copy && phrase.scope === 'institution' ? 'institution' : 'personal', group: phrase.group, trigger: phrase.trigger ?? '', text: phrase.text } : { scope: 'personal', group: t('library.defaultGroup'), trigger: '', text: '' };
    setEditing({ id: copy ? undefined : phrase?.id, initial });
    form.setFieldsValue(initial);
  };

  const save = async () => {
    const values = await form.validateFields();
    const body = { group: values.group, trigger: values.trigger?.trim() ? values.trigger.trim() : null, text: values.text };
    await change(
      async () => {
        if (editing?.id) await api.put(`/api/v1/report-phrases/${editing.id}`, body);
        else await api.post('/api/v1/report-phrases', { ...body, scope: values.scope, ...(values.scope === 'institution' && institutionId ? { institutionId } : {}) });
      },
      'library.saved',
      () => setEditing(undefined),
    );
  };

  const remove = (phrase: LibraryPhrase) => change(() => api.delete(`/api/v1/report-phrases/${phrase.id}`), 'library.deleted');

  return (
    <>
      <Space wrap style={{ marginBottom: 8 }}>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => open()} data-testid="new-phrase">
          {t('library.newPhrase')}
        </Button>
        <Typography.Text type="secondary">{t('library.phraseUsage')}</Typography.Text>
      </Space>
      <Table<LibraryPhrase>
        size="small"
        rowKey="id"
        loading={!phrases}
        dataSource={phrases}
        pagination={{ pageSize: 12, hideOnSinglePage: true }}
        data-testid="phrase-table"
        columns={[
          { key: 'scope', title: t('library.scope'), width: 100, render: (_, record) => <ScopeTag scope={record.scope} /> },
          { key: 'group', title: t('library.group'), dataIndex: 'group', width: 100 },
          { key: 'trigger', title: t('library.trigger'), width: 90, render: (_, record) => (record.trigger ? <Typography.Text code>{record.trigger}</Typography.Text> : '') },
          { key: 'text', title: t('library.text'), dataIndex: 'text' },
          {
            key: 'actions',
            title: t('library.actions'),
            width: 200,
            render: (_, record) => (
              <Space size={4} wrap>
                {editable(record) && (
                  <Button size="small" onClick={() => open(record)}>
                    {t('library.edit')}
                  </Button>
                )}
                <Button size="small" onClick={() => open(record, true)}>
                  {t('library.copy')}
                </Button>
                {editable(record) && (
                  <Popconfirm title={t('library.confirmDelete')} onConfirm={() => void remove(record)}>
                    <Button size="small" danger>
                      {t('library.delete')}
                    </Button>
                  </Popconfirm>
                )}
              </Space>
            ),
          },
        ]}
      />
      <Modal open={Boolean(editing)} title={editing?.id ? t('library.editPhrase') : t('library.newPhrase')} onOk={() => void save()} onCancel={() => setEditing(undefined)} okButtonProps={{ 'data-testid': 'save-phrase' } as ButtonProps} destroyOnHidden forceRender>
        <Form form={form} layout="vertical" initialValues={editing?.initial}>
          <Form.Item name="scope" label={t('library.scope')}>
            <Radio.Group disabled={Boolean(editing?.id)}>
              <Radio value="personal">{t('library.scope.personal')}</Radio>
              {mayManage && <Radio value="institution">{t('library.scope.institution')}</Radio>}
            </Radio.Group>
          </Form.Item>
          <Space wrap>
            <Form.Item name="group" label={t('library.group')} rules={[{ required: true }]}>
              <Input maxLength={50} style={{ width: 160 }} data-testid="phrase-group" />
            </Form.Item>
            <Form.Item name="trigger" label={t('library.trigger')} rules={[{ pattern: /^[A-Za-z0-9]*$/, message: t('library.triggerRule') }]}>
              <Input maxLength={20} style={{ width: 160 }} data-testid="phrase-trigger" />
            </Form.Item>
          </Space>
          <Form.Item name="text" label={t('library.text')} rules={[{ required: true }]}>
            <Input.TextArea autoSize={{ minRows: 2, maxRows: 6 }} maxLength={2000} data-testid="phrase-text" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}

/** Templates and phrases in two tabs; `defaults` start a new template at the study's modality and body part. */
export function ReportLibraryManager({ defaults }: { defaults?: { modality?: string | null; bodyPart?: string } }) {
  const t = useT();
  const user = useUser();
  // an administrator keeps any institution's library: they choose which (others keep their own)
  const [institutions, setInstitutions] = useState<Institution[]>([]);
  const [institutionId, setInstitutionId] = useState<string>();
  useEffect(() => {
    if (user.role !== 'administrator') return;
    api
      .get<Institution[]>('/api/v1/institutions')
      .then(setInstitutions)
      .catch(() => setInstitutions([]));
  }, [user.role]);
  return (
    <>
      {user.role === 'administrator' && (
        <Space style={{ marginBottom: 8 }}>
          <Typography.Text>{t('library.institution')}</Typography.Text>
          <Select style={{ width: 260 }} value={institutionId ?? user.institutionId} onChange={setInstitutionId} showSearch optionFilterProp="label" options={institutions.map((institution) => ({ value: institution.id, label: institution.name }))} data-testid="library-institution" />
        </Space>
      )}
      <LibraryTabs defaults={defaults} institutionId={institutionId} />
    </>
  );
}

function LibraryTabs({ defaults, institutionId }: { defaults?: { modality?: string | null; bodyPart?: string }; institutionId?: string }) {
  const t = useT();
  return (
    <Tabs
      data-testid="report-library"
      items={[
        { key: 'templates', label: <span data-testid="library-tab-templates">{t('library.templates')}</span>, children: <TemplatesTab key={institutionId} defaults={defaults} institutionId={institutionId} /> },
        { key: 'phrases', label: <span data-testid="library-tab-phrases">{t('library.phrases')}</span>, children: <PhrasesTab key={institutionId} institutionId={institutionId} /> },
      ]}
    />
  );
}

/** The editor's button: the library in a drawer, without leaving the report. */
export function ReportLibraryButton({ defaults }: { defaults?: { modality?: string | null; bodyPart?: string } }) {
  const t = useT();
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button size="small" icon={<BookOutlined />} onClick={() => setOpen(true)} data-testid="open-library">
        {t('library.manage')}
      </Button>
      <Drawer open={open} onClose={() => setOpen(false)} title={t('library.title')} size={760} destroyOnHidden data-testid="library-drawer">
        {open && <ReportLibraryManager defaults={defaults} />}
      </Drawer>
    </>
  );
}

/** /templates: the library as a page of its own. */
export default function TemplatesPage() {
  const t = useT();
  return (
    <Card title={t('library.title')} data-testid="templates-page">
      <ReportLibraryManager />
    </Card>
  );
}

/** Counts library changes (a template or phrase saved here or in the drawer): lists reload on it. */
export function useLibraryVersion(): number {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    window.addEventListener(LIBRARY_CHANGED_EVENT, bump);
    return () => window.removeEventListener(LIBRARY_CHANGED_EVENT, bump);
  }, []);
  return version;
}
