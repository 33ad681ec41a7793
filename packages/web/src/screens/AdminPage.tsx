import { useCallback, useEffect, useMemo, useState } from 'react';
import { App, Button, Card, Col, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tabs, Tag, Tree, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { PlusOutlined } from '@ant-design/icons';
import { api, ApiError } from '../api/client.ts';
import { PRIORITIES, ROLES, type ApplicationEntity, type Institution, type PublicUser, type RoutingRule } from '../api/types.ts';
import { useCodeLabels } from '../i18n/codes.ts';
import { useT, type MessageKey, type Translate } from '../i18n/i18n.tsx';
import { PriorityTag } from '../app/request-tags.tsx';
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

const MIN_PASSWORD_LENGTH = 8;
const PASSWORD_RULES = ['length', 'classes', 'username', 'common'] as const;

/** The server's refusal in the user's language where it names a rule (a weak password), else its message. */
function refusalText(t: Translate, caught: unknown): string {
  if (caught instanceof ApiError && caught.code === 'WEAK_PASSWORD') {
    const rule = PASSWORD_RULES.find((r) => r === caught.details?.rule);
    if (rule) return t(`password.weak.${rule}`, { min: caught.details?.minLength ?? MIN_PASSWORD_LENGTH });
  }
  return caught instanceof Error ? caught.message : String(caught);
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

/** Administration: institutions (hierarchy, alliances), users, AE titles, routing rules. */
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
  const [creating, setCreating] = useState(false);
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
  ];

  const create = async () => {
    const values = (await form.validateFields()) as Record<string, unknown>;
    const body = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== ''));
    if (await act(() => api.post('/api/v1/institutions', body), institutions.reload)) {
      setCreating(false);
      form.resetFields();
    }
  };

  return (
    <Row gutter={12}>
      <Col xs={24} lg={8}>
        <Card size="small" title={t('admin.institutions')} extra={<Button size="small" type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="create-institution">{t('app.create')}</Button>}>
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
        <Table<Institution> rowKey="id" size="small" loading={institutions.loading} columns={columns} dataSource={rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 640 }} />
      </Col>
      <Modal open={creating} title={t('admin.institutions')} onOk={() => void create()} onCancel={() => setCreating(false)}>
        <Form form={form} layout="vertical">
          <Form.Item name="id" label={t('admin.id')} rules={[{ required: true, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/ }]}>
            <Input />
          </Form.Item>
          <Form.Item name="name" label={t('admin.name')} rules={[{ required: true }]}>
            <Input />
          </Form.Item>
          <Space>
            <Form.Item name="tier" label={t('admin.tier')}>
              <Select style={{ width: 140 }} allowClear options={TIERS.map((tier) => ({ value: tier, label: tierLabel(t, tier) }))} />
            </Form.Item>
            <Form.Item name="grade" label={t('admin.grade')}>
              <Select style={{ width: 100 }} allowClear options={[1, 2, 3].map((grade) => ({ value: grade, label: grade }))} />
            </Form.Item>
            <Form.Item name="regionCode" label={t('admin.regionCode')} rules={[{ pattern: /^[0-9]{2,12}$/ }]}>
              <Input style={{ width: 140 }} />
            </Form.Item>
          </Space>
          <Form.Item name="parentId" label={t('admin.parent')}>
            <Select allowClear showSearch optionFilterProp="label" options={institutionOptions(rows)} />
          </Form.Item>
        </Form>
      </Modal>
    </Row>
  );
}

function UsersTab({ institutions }: { institutions: Institution[] }) {
  const t = useT();
  const act = useAction();
  const users = useList<PublicUser>('/api/v1/users');
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<PublicUser>();
  const [password, setPassword] = useState('');
  const [form] = Form.useForm();
  const names = new Map(institutions.map((row) => [row.id, row.name]));

  const columns: ColumnsType<PublicUser> = [
    { title: t('admin.username'), dataIndex: 'username', width: 120, render: (username: string) => <span data-identifier>{username}</span> },
    { title: t('admin.displayName'), dataIndex: 'displayName', width: 120 },
    { title: t('admin.role'), dataIndex: 'role', width: 150, render: (role: string, row) => <Select size="small" value={role} style={{ width: 140 }} options={ROLES.map((r) => ({ value: r, label: t(`role.${r}` as MessageKey) }))} onChange={(next) => void act(() => api.patch(`/api/v1/users/${encodeURIComponent(row.username)}`, { role: next }), users.reload)} /> },
    { title: t('admin.institution'), dataIndex: 'institutionId', ellipsis: true, render: (id: string) => names.get(id) ?? id },
    { title: t('admin.enabled'), dataIndex: 'enabled', width: 80, render: (enabled: boolean, row) => <Switch size="small" checked={enabled} onChange={(next) => void act(() => api.patch(`/api/v1/users/${encodeURIComponent(row.username)}`, { enabled: next }), users.reload)} /> },
    { title: t('app.actions'), key: 'actions', width: 110, render: (_, row) => <Button size="small" onClick={() => { setPassword(''); setResetting(row); }}>{t('admin.resetPassword')}</Button> },
  ];

  const create = async () => {
    const values = (await form.validateFields()) as Record<string, unknown>;
    const body = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== ''));
    if (await act(() => api.post('/api/v1/users', body), users.reload)) {
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
      <Table<PublicUser> rowKey="id" size="small" loading={users.loading} columns={columns} dataSource={users.rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 720 }} />
      <Modal open={creating} title={t('admin.users')} onOk={() => void create()} onCancel={() => setCreating(false)}>
        <Form form={form} layout="vertical">
          <Form.Item name="username" label={t('admin.username')} rules={[{ required: true, pattern: /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/ }]}>
            <Input autoComplete="off" />
          </Form.Item>
          <Form.Item name="displayName" label={t('admin.displayName')}>
            <Input />
          </Form.Item>
          <Form.Item name="password" label={t('admin.password')} rules={[{ required: true }]} extra={t('password.hint', { min: MIN_PASSWORD_LENGTH })}>
            <Input.Password autoComplete="new-password" />
          </Form.Item>
          <Form.Item name="role" label={t('admin.role')} rules={[{ required: true }]}>
            <Select options={ROLES.map((r) => ({ value: r, label: t(`role.${r}` as MessageKey) }))} />
          </Form.Item>
          <Form.Item name="institutionId" label={t('admin.institution')} rules={[{ required: true }]}>
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

function AesTab({ institutions }: { institutions: Institution[] }) {
  const t = useT();
  const act = useAction();
  const aes = useList<ApplicationEntity>('/api/v1/application-entities');
  const [creating, setCreating] = useState(false);
  const [form] = Form.useForm();
  const names = new Map(institutions.map((row) => [row.id, row.name]));
  const columns: ColumnsType<ApplicationEntity> = [
    { title: t('admin.aeTitle'), dataIndex: 'aeTitle', width: 140, render: (title: string) => <Typography.Text code>{title}</Typography.Text> },
    { title: t('admin.institution'), dataIndex: 'institutionId', render: (id: string) => names.get(id) ?? id },
    { title: t('admin.host'), dataIndex: 'host', width: 140 },
    { title: t('admin.port'), dataIndex: 'port', width: 80 },
    { title: t('admin.description'), dataIndex: 'description', ellipsis: true },
    { title: t('app.actions'), key: 'actions', width: 80, render: (_, row) => <Popconfirm title={t('admin.confirmDelete')} onConfirm={() => void act(() => api.delete(`/api/v1/application-entities/${encodeURIComponent(row.aeTitle)}`), aes.reload, 'admin.deleted')}><Button size="small" danger>{t('app.delete')}</Button></Popconfirm> },
  ];
  const create = async () => {
    const { aeTitle, ...values } = (await form.validateFields()) as Record<string, unknown>;
    const body = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== '' && value !== null));
    if (await act(() => api.put(`/api/v1/application-entities/${encodeURIComponent(String(aeTitle))}`, body), aes.reload)) {
      setCreating(false);
      form.resetFields();
    }
  };
  return (
    <>
      <Button type="primary" size="small" icon={<PlusOutlined />} onClick={() => setCreating(true)} style={{ marginBottom: 8 }}>
        {t('app.create')}
      </Button>
      <Table<ApplicationEntity> rowKey="aeTitle" size="small" loading={aes.loading} columns={columns} dataSource={aes.rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} />
      <Modal open={creating} title={t('admin.aes')} onOk={() => void create()} onCancel={() => setCreating(false)}>
        <Form form={form} layout="vertical">
          <Form.Item name="aeTitle" label={t('admin.aeTitle')} rules={[{ required: true, pattern: /^[\x20-\x5b\x5d-\x7e]{1,16}$/ }]}>
            <Input maxLength={16} />
          </Form.Item>
          <Form.Item name="institutionId" label={t('admin.institution')} rules={[{ required: true }]}>
            <Select showSearch optionFilterProp="label" options={institutionOptions(institutions)} />
          </Form.Item>
          <Space>
            <Form.Item name="host" label={t('admin.host')}>
              <Input />
            </Form.Item>
            <Form.Item name="port" label={t('admin.port')}>
              <InputNumber min={1} max={65535} />
            </Form.Item>
          </Space>
          <Form.Item name="description" label={t('admin.description')}>
            <Input />
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
  const rules = useList<RoutingRule>('/api/v1/routing-rules');
  const [creating, setCreating] = useState(false);
  const [form] = Form.useForm();
  const names = new Map(institutions.map((row) => [row.id, row.name]));
  const any = <Typography.Text type="secondary">{t('admin.any')}</Typography.Text>;
  const columns: ColumnsType<RoutingRule> = [
    { title: t('admin.position'), dataIndex: 'position', width: 60 },
    { title: t('admin.ruleName'), dataIndex: 'name' },
    { title: t('admin.source'), dataIndex: 'source_institution_id', render: (id: string | null) => (id ? names.get(id) ?? id : any) },
    { title: t('worklist.modality'), dataIndex: 'modality', width: 80, render: (value: string | null) => value ?? any },
    { title: t('admin.bodyPart'), dataIndex: 'body_part', width: 90, render: (value: string | null) => (value ? codes.bodyParts([value]) : any) },
    { title: t('admin.timeWindow'), key: 'time', width: 110, render: (_, row) => (row.time_from && row.time_to ? `${row.time_from}–${row.time_to}` : any) },
    { title: t('admin.readingCentre'), dataIndex: 'reading_institution_id', render: (id: string) => names.get(id) ?? id },
    { title: t('worklist.priority'), dataIndex: 'priority', width: 80, render: (priority: Priority) => <PriorityTag priority={priority} /> },
    { title: t('app.actions'), key: 'actions', width: 80, render: (_, row) => <Popconfirm title={t('admin.confirmDelete')} onConfirm={() => void act(() => api.delete(`/api/v1/routing-rules/${row.id}`), rules.reload, 'admin.deleted')}><Button size="small" danger>{t('app.delete')}</Button></Popconfirm> },
  ];
  const create = async () => {
    const values = (await form.validateFields()) as Record<string, unknown>;
    const body = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined && value !== '' && value !== null));
    if (await act(() => api.post('/api/v1/routing-rules', body), rules.reload)) {
      setCreating(false);
      form.resetFields();
    }
  };
  const time = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;
  return (
    <>
      <Button type="primary" size="small" icon={<PlusOutlined />} onClick={() => setCreating(true)} style={{ marginBottom: 8 }}>
        {t('app.create')}
      </Button>
      <Table<RoutingRule> rowKey="id" size="small" loading={rules.loading} columns={columns} dataSource={rules.rows} pagination={{ pageSize: 20, hideOnSinglePage: true }} scroll={{ x: 900 }} />
      <Modal open={creating} title={t('admin.rules')} onOk={() => void create()} onCancel={() => setCreating(false)} width={600}>
        <Form form={form} layout="vertical" initialValues={{ priority: 'routine', position: 100 }}>
          <Form.Item name="name" label={t('admin.ruleName')} rules={[{ required: true }]}>
            <Input />
          </Form.Item>
          <Space wrap>
            <Form.Item name="position" label={t('admin.position')}>
              <InputNumber min={0} max={100000} />
            </Form.Item>
            <Form.Item name="priority" label={t('worklist.priority')}>
              <Select style={{ width: 120 }} options={PRIORITIES.map((p) => ({ value: p, label: t(`priority.${p}` as MessageKey) }))} />
            </Form.Item>
            <Form.Item name="modality" label={t('worklist.modality')}>
              <Input style={{ width: 100 }} />
            </Form.Item>
            <Form.Item name="bodyPart" label={t('admin.bodyPart')}>
              <Input style={{ width: 120 }} />
            </Form.Item>
          </Space>
          <Form.Item name="sourceInstitutionId" label={t('admin.source')}>
            <Select allowClear showSearch optionFilterProp="label" options={institutionOptions(institutions)} />
          </Form.Item>
          <Form.Item name="readingInstitutionId" label={t('admin.readingCentre')} rules={[{ required: true }]}>
            <Select showSearch optionFilterProp="label" options={institutionOptions(institutions)} />
          </Form.Item>
          <Space>
            <Form.Item name="timeFrom" label={t('admin.timeFrom')} rules={[{ pattern: time }]}>
              <Input style={{ width: 120 }} placeholder="20:00" />
            </Form.Item>
            <Form.Item name="timeTo" label={t('admin.timeTo')} rules={[{ pattern: time }]}>
              <Input style={{ width: 120 }} placeholder="08:00" />
            </Form.Item>
          </Space>
        </Form>
      </Modal>
    </>
  );
}
