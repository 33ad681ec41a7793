import { useCallback, useEffect, useMemo, useState } from 'react';
import { App, Button, Card, Col, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tabs, Tag, Tree, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { PlusOutlined } from '@ant-design/icons';
import { api } from '../api/client.ts';
import { MIN_PASSWORD_LENGTH, refusalText } from './admin/refusal.ts';
import { PickListsTab } from './admin/PickListsTab.tsx';
import { SlaTab } from './admin/SlaTab.tsx';
import { CriticalSettingsTab } from './admin/CriticalSettingsTab.tsx';
import { RecognitionItemsTab } from './admin/RecognitionItemsTab.tsx';
import { PRIORITIES, ROLES, type ApplicationEntity, type Institution, type PublicUser, type RoutingRule } from '../api/types.ts';
import { useCodeLabels } from '../i18n/codes.ts';
import { useT, type MessageKey, type Translate } from '../i18n/i18n.tsx';
import { PriorityTag } from '../app/request-tags.tsx';
import { usePickLists } from '../app/pick-lists.ts';

/** routing rules apply across institutions: their lists are the platform default */
const PLATFORM_PICK_LISTS = '*';
import type { Priority } from '../api/types.ts';

const TIERS = ['province', 'city', 'county', 'township'];

function useList<T>(path: string): { rows: T[]; loading: boolean; reload: () => Promise<void> } {
  const { message } = App.useApp();
  const [rows, setRows] = useState<T[]>([]);
  const [loading, setLoading] = useState(true);
  const reload = useCallback(async () => {
    try {
      setRows(await api.get<T[]>(path));
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setLoading(false);
    }
  }, [path, message]);
  useEffect(() => void reload(), [reload]);
  return { rows, loading, reload };
}

/** Runs an admin change, reports the server's error, reloads. */
function useAction() {
  const { message } = App.useApp();
  const t = useT();
  return async (run: () => Promise<unknown>, after?: () => Promise<void> | void, done: MessageKey = 'admin.saved') => {
    try {
      await run();
      message.success(t(done));
      await after?.();
      return true;
    } catch (caught) {
      message.error(refusalText(t, caught));
      return false;
    }
  };
}

/** Without the values the form left empty (a new row), or with them as null where the server clears a field (an edit). */
function filled(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== '' && value !== null));
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const AE_TITLE_PATTERN = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;
const TIME_PATTERN = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/** Administration: institutions (hierarchy, alliances), users, AE titles, routing rules, pick lists, the reading SLA, critical findings, the recognition item catalogue. */
export default function AdminPage() {
  const t = useT();
  const institutions = useList<Institution>('/api/v1/institutions');
  return (
    <Card size="small" data-testid="admin-page">
      <Tabs
        items={[
          { key: 'institutions', label: t('admin.institutions'), children: <InstitutionsTab institutions={institutions} /> },
          { key: 'users', label: t('admin.users'), children: <UsersTab institutions={institutions.rows} /> },
          { key: 'aes', label: t('admin.aes'), children: <AesTab institutions={institutions.rows} /> },
          { key: 'rules', label: t('admin.rules'), children: <RulesTab institutions={institutions.rows} /> },
          { key: 'pick-lists', label: t('admin.pickLists'), children: <PickListsTab institutions={institutions.rows} /> },
          { key: 'sla', label: t('admin.sla'), children: <SlaTab /> },
          { key: 'critical', label: t('critical.admin.tab'), children: <CriticalSettingsTab institutions={institutions.rows} /> },
          { key: 'recognition-items', label: t('recognitionItems.tab'), children: <RecognitionItemsTab /> },
        ]}
      />
    </Card>
  );
}

function institutionOptions(institutions: Institution[]) {
  return institutions.map((institution) => ({ value: institution.id, label: `${institution.name} (${institution.id})` }));
}

function tierLabel(t: Translate, tier: string | null): string {
  return tier ? t(`admin.tier.${tier}` as MessageKey) : '';
}

function InstitutionsTab({ institutions }: { institutions: ReturnType<typeof useList<Institution>> }) {
  const t = useT();
  const act = useAction();
  /** the institution being edited; null: a new one; undefined: no dialog */
  const [editing, setEditing] = useState<Institution | null>();
  const [form] = Form.useForm();
  const [centre, setCentre] = useState<string>();
  const [member, setMember] = useState<string>();
  const { rows } = institutions;
  const byId = useMemo(() => new Map(rows.map((row) => [row.id, row])), [rows]);

  const tree = useMemo(() => {
    type Node = { key: string; title: React.ReactNode; children: Node[] };
    const nodes = new Map<string, Node>(rows.map((row) => [row.id, { key: row.id, title: <span>{row.name} <Tag>{tierLabel(t, row.tier)}</Tag>{row.serves.length > 0 && <Tag color="blue">{t('admin.centre')}</Tag>}</span>, children: [] }]));
    const roots: Node[] = [];
    for (const row of rows) {
      const node = nodes.get(row.id)!;
      const parent = row.parentId ? nodes.get(row.parentId) : undefined;
      if (parent) parent.children.push(node);
      else roots.push(node);
    }
    return roots;
  }, [rows, t]);

  const open = (row: Institution | null) => {
    form.resetFields();
    if (row) form.setFieldsValue({ id: row.id, name: row.name, tier: row.tier ?? undefined, grade: row.grade ?? undefined, regionCode: row.regionCode ?? undefined, parentId: row.parentId ?? undefined });
    setEditing(row);
  };

  const columns: ColumnsType<Institution> = [
    { title: t('admin.id'), dataIndex: 'id', width: 120, render: (id: string) => <span data-identifier>{id}</span> },
    { title: t('admin.name'), dataIndex: 'name' },
    { title: t('admin.tier'), dataIndex: 'tier', width: 80, render: (tier: string | null) => tierLabel(t, tier) },
    { title: t('admin.grade'), dataIndex: 'grade', width: 60 },
    { title: t('admin.parent'), dataIndex: 'parentId', width: 120, render: (id: string | null) => (id ? byId.get(id)?.name ?? id : '') },
    {
      title: t('admin.members'),
      key: 'serves',
      render: (_, row) => (
        <Space size={4} wrap>
          {row.serves.map((id) => (
            <Tag key={id} closable onClose={(event) => { event.preventDefault(); void act(() => api.delete(`/api/v1/institutions/${row.id}/members/${id}`), institutions.reload); }}>
              {byId.get(id)?.name ?? id}
            </Tag>
          ))}
        </Space>
      ),
    },
    { title: t('app.actions'), key: 'actions', width: 80, render: (_, row) => <Button size="small" onClick={() => open(row)} data-testid={`edit-institution-${row.id}`}>{t('app.edit')}</Button> },
  ];

  const save = async () => {
    const values = (await form.validateFields()) as Record<string, unknown>;
    const { id, ...changes } = filled(values);
    const saved = editing
      ? await act(() => api.patch(`/api/v1/institutions/${encodeURIComponent(editing.id)}`, changes), institutions.reload)
      : await act(() => api.post('/api/v1/institutions', { id, ...changes }), institutions.reload);
    if (saved) setEditing(undefined);
  };

  return (
    <Row gutter={12}>
      <Col xs={24} lg={8}>
        <Card size="small" title={t('admin.institutions')} extra={<Button size="small" type="primary" icon={<PlusOutlined />} onClick={() => open(null)} data-testid="create-institution">{t('app.create')}</Button>}>
          {tree.length > 0 && <Tree treeData={tree} defaultExpandAll showLine selectable={false} data-testid="institution-tree" />}
        </Card>
        <Card size="small" title={t('admin.addMember')} style={{ marginTop: 12 }}>
          <Space direction="vertical" style={{ width: '100%' }}>
            <Select placeholder={t('admin.centre')} value={centre} onChange={setCentre} options={institutionOptions(rows)} style={{ width: '100%' }} showSearch optionFilterProp="label" />
            <Select placeholder={t('admin.member')} value={member} onChange={setMember} options={institutionOptions(rows.filter((row) => row.id !== centre))} style={{ width: '100%' }} showSearch optionFilterProp="label" />
            <Button disabled={!centre || !member} onClick={() => void act(() => api.put(`/api/v1/institutions/${centre}/members/${member}`), institutions.reload)}>
              {t('admin.addMember')}
            </Button>
          </Space>
        </Card>
      </Col>
      <Col xs={24} lg={16}>
        <Table<Institution> rowKey="id" size="small" loading={institutions.loading} columns={columns} dataSource={rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 720 }} data-testid="institution-table" />
      </Col>
      <Modal open={editing !== undefined} title={editing ? `${t('admin.editInstitution')} · ${editing.name}` : t('admin.institutions')} onOk={() => void save()} onCancel={() => setEditing(undefined)} okButtonProps={{ 'data-testid': 'institution-ok' } as Record<string, string>} forceRender>
        <Form form={form} layout="vertical" data-testid="institution-form">
          <Form.Item name="id" label={t('admin.id')} rules={[{ required: true, message: t('admin.required') }, { pattern: ID_PATTERN, message: t('admin.invalidId') }]}>
            <Input disabled={!!editing} />
          </Form.Item>
          <Form.Item name="name" label={t('admin.name')} rules={[{ required: true, whitespace: true, message: t('admin.required') }, { max: 200 }]}>
            <Input data-testid="institution-name" />
          </Form.Item>
          <Space wrap>
            <Form.Item name="tier" label={t('admin.tier')}>
              <Select style={{ width: 140 }} allowClear={!editing} options={TIERS.map((tier) => ({ value: tier, label: tierLabel(t, tier) }))} />
            </Form.Item>
            <Form.Item name="grade" label={t('admin.grade')}>
              <Select style={{ width: 100 }} allowClear={!editing} options={[1, 2, 3].map((grade) => ({ value: grade, label: grade }))} />
            </Form.Item>
            <Form.Item name="regionCode" label={t('admin.regionCode')} rules={[{ pattern: /^[0-9]{2,12}$/, message: t('admin.regionCode') }]}>
              <Input style={{ width: 140 }} />
            </Form.Item>
          </Space>
          <Form.Item name="parentId" label={t('admin.parent')}>
            <Select allowClear={!editing} showSearch optionFilterProp="label" options={institutionOptions(rows.filter((row) => row.id !== editing?.id))} data-testid="institution-parent" />
          </Form.Item>
        </Form>
      </Modal>
    </Row>
  );
}

function UsersTab({ institutions }: { institutions: Institution[] }) {
  const t = useT();
  const act = useAction();
  const { modal } = App.useApp();
  const users = useList<PublicUser>('/api/v1/users');
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<PublicUser>();
  const [password, setPassword] = useState('');
  const [form] = Form.useForm();
  const names = new Map(institutions.map((row) => [row.id, row.name]));
  const roleLabel = (role: string) => t(`role.${role}` as MessageKey);

  /** A role change names the user and both roles before it is made (the server audits it with the old role). */
  const confirmRole = (row: PublicUser, next: string) => {
    modal.confirm({
      title: t('admin.roleChangeTitle'),
      content: <span data-testid="role-change-body">{t('admin.roleChangeBody', { user: row.displayName ? `${row.displayName}（${row.username}）` : row.username, from: roleLabel(row.role), to: roleLabel(next) })}</span>,
      okText: t('app.confirm'),
      cancelText: t('app.cancel'),
      okButtonProps: { 'data-testid': 'role-change-ok' } as Record<string, string>,
      onOk: () => act(() => api.patch(`/api/v1/users/${encodeURIComponent(row.username)}`, { role: next }), users.reload, 'admin.roleChanged'),
    });
  };

  const columns: ColumnsType<PublicUser> = [
    { title: t('admin.username'), dataIndex: 'username', width: 120, render: (username: string) => <span data-identifier>{username}</span> },
    { title: t('admin.displayName'), dataIndex: 'displayName', width: 120 },
    { title: t('admin.role'), dataIndex: 'role', width: 150, render: (role: string, row) => <Select size="small" value={role} style={{ width: 140 }} options={ROLES.map((r) => ({ value: r, label: roleLabel(r) }))} onChange={(next) => confirmRole(row, next)} data-testid={`role-${row.username}`} /> },
    { title: t('admin.institution'), dataIndex: 'institutionId', ellipsis: true, render: (id: string) => names.get(id) ?? id },
    { title: t('admin.enabled'), dataIndex: 'enabled', width: 80, render: (enabled: boolean, row) => <Switch size="small" checked={enabled} onChange={(next) => void act(() => api.patch(`/api/v1/users/${encodeURIComponent(row.username)}`, { enabled: next }), users.reload)} /> },
    { title: t('app.actions'), key: 'actions', width: 110, render: (_, row) => <Button size="small" onClick={() => { setPassword(''); setResetting(row); }}>{t('admin.resetPassword')}</Button> },
  ];

  const create = async () => {
    const values = (await form.validateFields()) as Record<string, unknown>;
    if (await act(() => api.post('/api/v1/users', filled(values)), users.reload)) {
      setCreating(false);
      form.resetFields();
    }
  };

  return (
    <>
      <Space style={{ marginBottom: 8 }}>
        <Button type="primary" size="small" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="create-user">
          {t('app.create')}
        </Button>
      </Space>
      <Table<PublicUser> rowKey="id" size="small" loading={users.loading} columns={columns} dataSource={users.rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 720 }} data-testid="user-table" />
      <Modal open={creating} title={t('admin.users')} onOk={() => void create()} onCancel={() => setCreating(false)}>
        <Form form={form} layout="vertical">
          <Form.Item name="username" label={t('admin.username')} rules={[{ required: true, message: t('admin.required') }, { pattern: /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, message: t('admin.invalidId') }]}>
            <Input autoComplete="off" />
          </Form.Item>
          <Form.Item name="displayName" label={t('admin.displayName')}>
            <Input />
          </Form.Item>
          <Form.Item name="password" label={t('admin.password')} rules={[{ required: true, message: t('admin.required') }]} extra={t('password.hint', { min: MIN_PASSWORD_LENGTH })}>
            <Input.Password autoComplete="new-password" />
          </Form.Item>
          <Form.Item name="role" label={t('admin.role')} rules={[{ required: true, message: t('admin.required') }]}>
            <Select options={ROLES.map((r) => ({ value: r, label: roleLabel(r) }))} />
          </Form.Item>
          <Form.Item name="institutionId" label={t('admin.institution')} rules={[{ required: true, message: t('admin.required') }]}>
            <Select showSearch optionFilterProp="label" options={institutionOptions(institutions)} />
          </Form.Item>
        </Form>
      </Modal>
      <Modal open={!!resetting} title={`${t('admin.resetPassword')} · ${resetting?.username ?? ''}`} okButtonProps={{ disabled: !password }} onCancel={() => setResetting(undefined)} onOk={() => void act(() => api.patch(`/api/v1/users/${encodeURIComponent(resetting!.username)}`, { password }), () => setResetting(undefined), 'admin.passwordReset')}>
        <Input.Password value={password} onChange={(event) => setPassword(event.target.value)} placeholder={t('admin.newPassword')} autoComplete="new-password" />
      </Modal>
    </>
  );
}

/** Application entities: the modalities and gateways that send (an AE title and its institution) and, with host and port, the DICOM nodes C-MOVE sends to. */
function AesTab({ institutions }: { institutions: Institution[] }) {
  const t = useT();
  const act = useAction();
  const aes = useList<ApplicationEntity>('/api/v1/application-entities');
  /** the AE being edited; null: a new one; undefined: no dialog */
  const [editing, setEditing] = useState<ApplicationEntity | null>();
  const [form] = Form.useForm();
  const names = new Map(institutions.map((row) => [row.id, row.name]));
  const open = (row: ApplicationEntity | null) => {
    form.resetFields();
    if (row) form.setFieldsValue(row);
    setEditing(row);
  };
  const columns: ColumnsType<ApplicationEntity> = [
    { title: t('admin.aeTitle'), dataIndex: 'aeTitle', width: 140, render: (title: string) => <Typography.Text code>{title}</Typography.Text> },
    { title: t('admin.institution'), dataIndex: 'institutionId', render: (id: string) => names.get(id) ?? id },
    { title: t('admin.host'), dataIndex: 'host', width: 140, render: (host: string | undefined) => (host ? <span data-identifier>{host}</span> : '') },
    { title: t('admin.port'), dataIndex: 'port', width: 80 },
    { title: t('admin.dicomNode'), key: 'node', width: 150, render: (_, row) => (row.host ? <Tag color="green">{t('admin.dicomNode')}</Tag> : <Tag>{t('admin.aeLocal')}</Tag>) },
    { title: t('admin.description'), dataIndex: 'description', ellipsis: true },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 140,
      render: (_, row) => (
        <Space size={4}>
          <Button size="small" onClick={() => open(row)} data-testid={`edit-ae-${row.aeTitle}`}>{t('app.edit')}</Button>
          <Popconfirm title={t('admin.confirmDelete')} onConfirm={() => void act(() => api.delete(`/api/v1/application-entities/${encodeURIComponent(row.aeTitle)}`), aes.reload, 'admin.deleted')}>
            <Button size="small" danger>{t('app.delete')}</Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];
  const save = async () => {
    const { aeTitle, ...values } = (await form.validateFields()) as Record<string, unknown>;
    // PUT replaces the AE: an edit that empties host and port (or the description) removes them
    if (await act(() => api.put(`/api/v1/application-entities/${encodeURIComponent(String(aeTitle).trim())}`, filled(values)), aes.reload)) setEditing(undefined);
  };
  const bothOrNeither = ({ getFieldValue }: { getFieldValue: (name: string) => unknown }) => ({
    validator: async () => {
      const host = getFieldValue('host');
      const port = getFieldValue('port');
      if ((host === undefined || host === null || host === '') !== (port === undefined || port === null)) throw new Error(t('admin.aeAddress'));
    },
  });
  return (
    <>
      <Button type="primary" size="small" icon={<PlusOutlined />} onClick={() => open(null)} style={{ marginBottom: 8 }} data-testid="create-ae">
        {t('app.create')}
      </Button>
      <Table<ApplicationEntity> rowKey="aeTitle" size="small" loading={aes.loading} columns={columns} dataSource={aes.rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 860 }} data-testid="ae-table" />
      <Modal open={editing !== undefined} title={editing ? `${t('admin.editAe')} · ${editing.aeTitle}` : t('admin.aes')} onOk={() => void save()} onCancel={() => setEditing(undefined)} okButtonProps={{ 'data-testid': 'ae-ok' } as Record<string, string>} forceRender>
        <Form form={form} layout="vertical" data-testid="ae-form">
          <Form.Item name="aeTitle" label={t('admin.aeTitle')} rules={[{ required: true, message: t('admin.required') }, { pattern: AE_TITLE_PATTERN, message: t('admin.invalidAeTitle') }]}>
            <Input maxLength={16} disabled={!!editing} data-testid="ae-title" />
          </Form.Item>
          <Form.Item name="institutionId" label={t('admin.institution')} rules={[{ required: true, message: t('admin.required') }]}>
            <Select showSearch optionFilterProp="label" options={institutionOptions(institutions)} data-testid="ae-institution" />
          </Form.Item>
          <Space wrap align="start">
            <Form.Item name="host" label={t('admin.host')} dependencies={['port']} rules={[bothOrNeither]}>
              <Input data-testid="ae-host" />
            </Form.Item>
            <Form.Item name="port" label={t('admin.port')} dependencies={['host']} rules={[bothOrNeither]}>
              <InputNumber min={1} max={65535} precision={0} data-testid="ae-port" />
            </Form.Item>
          </Space>
          <Form.Item name="description" label={t('admin.description')} rules={[{ max: 200 }]}>
            <Input data-testid="ae-description" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}

function RulesTab({ institutions }: { institutions: Institution[] }) {
  const t = useT();
  const codes = useCodeLabels();
  const act = useAction();
  const lists = usePickLists(PLATFORM_PICK_LISTS);
  const rules = useList<RoutingRule>('/api/v1/routing-rules');
  /** the rule being edited; null: a new one; undefined: no dialog */
  const [editing, setEditing] = useState<RoutingRule | null>();
  const [form] = Form.useForm();
  const names = new Map(institutions.map((row) => [row.id, row.name]));
  const any = <Typography.Text type="secondary">{t('admin.any')}</Typography.Text>;
  const open = (row: RoutingRule | null) => {
    form.resetFields();
    if (row)
      form.setFieldsValue({ name: row.name, position: row.position, priority: row.priority, enabled: row.enabled === 1, modality: row.modality ?? undefined, bodyPart: row.body_part ?? undefined, sourceInstitutionId: row.source_institution_id ?? undefined, readingInstitutionId: row.reading_institution_id, timeFrom: row.time_from ?? undefined, timeTo: row.time_to ?? undefined });
    setEditing(row);
  };
  const columns: ColumnsType<RoutingRule> = [
    { title: t('admin.position'), dataIndex: 'position', width: 60 },
    { title: t('admin.ruleName'), dataIndex: 'name', render: (name: string, row) => (row.enabled === 1 ? name : <Typography.Text delete>{name}</Typography.Text>) },
    { title: t('admin.source'), dataIndex: 'source_institution_id', render: (id: string | null) => (id ? names.get(id) ?? id : any) },
    { title: t('worklist.modality'), dataIndex: 'modality', width: 80, render: (value: string | null) => value ?? any },
    { title: t('admin.bodyPart'), dataIndex: 'body_part', width: 90, render: (value: string | null) => (value ? codes.bodyParts([value]) : any) },
    { title: t('admin.timeWindow'), key: 'time', width: 110, render: (_, row) => (row.time_from && row.time_to ? `${row.time_from}–${row.time_to}` : any) },
    { title: t('admin.readingCentre'), dataIndex: 'reading_institution_id', render: (id: string) => names.get(id) ?? id },
    { title: t('worklist.priority'), dataIndex: 'priority', width: 80, render: (priority: Priority) => <PriorityTag priority={priority} /> },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 140,
      render: (_, row) => (
        <Space size={4}>
          <Button size="small" onClick={() => open(row)} data-testid={`edit-rule-${row.name}`}>{t('app.edit')}</Button>
          <Popconfirm title={t('admin.confirmDelete')} onConfirm={() => void act(() => api.delete(`/api/v1/routing-rules/${row.id}`), rules.reload, 'admin.deleted')}>
            <Button size="small" danger>{t('app.delete')}</Button>
          </Popconfirm>
        </Space>
      ),
    },
  ];
  const save = async () => {
    const values = (await form.validateFields()) as Record<string, unknown>;
    let saved: boolean;
    if (editing) {
      // an emptied filter is cleared (null): the rule then matches any value
      const cleared = (name: string) => (values[name] === undefined || values[name] === '' ? null : values[name]);
      const changes = { name: values.name, position: values.position, priority: values.priority, enabled: values.enabled, readingInstitutionId: values.readingInstitutionId, sourceInstitutionId: cleared('sourceInstitutionId'), modality: cleared('modality'), bodyPart: cleared('bodyPart'), timeFrom: cleared('timeFrom'), timeTo: cleared('timeTo') };
      saved = await act(() => api.patch(`/api/v1/routing-rules/${editing.id}`, changes), rules.reload);
    } else {
      const { enabled: _enabled, ...created } = filled(values);
      saved = await act(() => api.post('/api/v1/routing-rules', created), rules.reload);
    }
    if (saved) setEditing(undefined);
  };
  const bothTimes = ({ getFieldValue }: { getFieldValue: (name: string) => unknown }) => ({
    validator: async () => {
      if (!getFieldValue('timeFrom') !== !getFieldValue('timeTo')) throw new Error(t('admin.timeBoth'));
    },
  });
  return (
    <>
      <Button type="primary" size="small" icon={<PlusOutlined />} onClick={() => open(null)} style={{ marginBottom: 8 }} data-testid="create-rule">
        {t('app.create')}
      </Button>
      <Table<RoutingRule> rowKey="id" size="small" loading={rules.loading} columns={columns} dataSource={rules.rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 960 }} data-testid="rule-table" />
      <Modal open={editing !== undefined} title={editing ? `${t('admin.editRule')} · ${editing.name}` : t('admin.rules')} onOk={() => void save()} onCancel={() => setEditing(undefined)} width={600} okButtonProps={{ 'data-testid': 'rule-ok' } as Record<string, string>} forceRender>
        <Form form={form} layout="vertical" initialValues={{ priority: 'routine', position: 100, enabled: true }} data-testid="rule-form">
          <Form.Item name="name" label={t('admin.ruleName')} rules={[{ required: true, whitespace: true, message: t('admin.required') }, { max: 100 }]}>
            <Input data-testid="rule-name" />
          </Form.Item>
          <Space wrap>
            <Form.Item name="position" label={t('admin.position')}>
              <InputNumber min={0} max={100000} precision={0} />
            </Form.Item>
            <Form.Item name="priority" label={t('worklist.priority')}>
              <Select style={{ width: 120 }} options={PRIORITIES.map((p) => ({ value: p, label: t(`priority.${p}` as MessageKey) }))} data-testid="rule-priority" />
            </Form.Item>
            <Form.Item name="modality" label={t('worklist.modality')}>
              <Select style={{ width: 120 }} allowClear showSearch options={lists.modalities.map((code) => ({ value: code, label: code }))} data-testid="rule-modality" />
            </Form.Item>
            <Form.Item name="bodyPart" label={t('admin.bodyPart')}>
              <Select style={{ width: 160 }} allowClear showSearch optionFilterProp="label" options={lists.bodyParts.map((code) => ({ value: code, label: codes.bodyParts([code]) }))} data-testid="rule-body-part" />
            </Form.Item>
            {editing && (
              <Form.Item name="enabled" label={t('admin.ruleEnabled')} valuePropName="checked">
                <Switch />
              </Form.Item>
            )}
          </Space>
          <Form.Item name="sourceInstitutionId" label={t('admin.source')}>
            <Select allowClear showSearch optionFilterProp="label" options={institutionOptions(institutions)} data-testid="rule-source" />
          </Form.Item>
          <Form.Item name="readingInstitutionId" label={t('admin.readingCentre')} rules={[{ required: true, message: t('admin.required') }]}>
            <Select showSearch optionFilterProp="label" options={institutionOptions(institutions)} data-testid="rule-centre" />
          </Form.Item>
          <Space wrap align="start">
            <Form.Item name="timeFrom" label={t('admin.timeFrom')} dependencies={['timeTo']} rules={[{ pattern: TIME_PATTERN, message: t('admin.invalidTime') }, bothTimes]}>
              <Input style={{ width: 120 }} placeholder="20:00" />
            </Form.Item>
            <Form.Item name="timeTo" label={t('admin.timeTo')} dependencies={['timeFrom']} rules={[{ pattern: TIME_PATTERN, message: t('admin.invalidTime') }, bothTimes]}>
              <Input style={{ width: 120 }} placeholder="08:00" />
            </Form.Item>
          </Space>
        </Form>
      </Modal>
    </>
  );
}
