import { useCallback, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert, App, Button, Card, DatePicker, Descriptions, Form, Input, List, Modal, Select, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { MinusCircleOutlined, PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import dayjs, { type Dayjs } from 'dayjs';
import { mayConsult, mdtApi, type MdtSessionView } from '../../api/consultations.ts';
import { useUser } from '../../app/auth.tsx';
import { formatDateTime, formatPersonName } from '../../app/format.ts';
import { StudyViewerModal } from '../../app/StudyViewerModal.tsx';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { linesOf, textLinesOf } from './ReasonDialog.tsx';

const STATUS_COLORS = { scheduled: 'blue', held: 'green', cancelled: 'default' } as const;

/**
 * 多学科会诊 (MDT): the sessions of the caller's institution and those the caller sits in,
 * the form to schedule one, and the session page (`?session=<id>`): the studies, the
 * participants and their attendance (签到), and the organizer's minutes, decisions and
 * follow-up date.
 */
export default function MdtSessionsPage() {
  const t = useT();
  const user = useUser();
  const { message } = App.useApp();
  const [params, setParams] = useSearchParams();
  const [rows, setRows] = useState<MdtSessionView[]>();
  const [error, setError] = useState<string>();
  const [scheduling, setScheduling] = useState(false);
  const selectedId = params.get('session') ?? undefined;
  const mayWrite = mayConsult(user.role, 'mdt:write');

  const load = useCallback(() => {
    mdtApi
      .list()
      .then((list) => {
        setRows(list);
        setError(undefined);
      })
      .catch((caught: unknown) => {
        setRows([]);
        setError(refusalText(t, caught));
      });
  }, [t]);
  useEffect(load, [load]);

  const select = (id: string | undefined) => {
    const next = new URLSearchParams(params);
    if (id) next.set('session', id);
    else next.delete('session');
    setParams(next, { replace: true });
  };
  const changed = (session: MdtSessionView) => setRows((current) => [session, ...(current ?? []).filter((row) => row.id !== session.id)].sort((a, b) => b.scheduledAt.localeCompare(a.scheduledAt)));

  const columns: ColumnsType<MdtSessionView> = [
    { title: t('mdt.scheduledAt'), dataIndex: 'scheduledAt', width: 140, render: (value: string) => formatDateTime(value) },
    { title: t('mdt.sessionTitle'), dataIndex: 'title', ellipsis: true },
    { title: t('mdt.departments'), key: 'departments', responsive: ['lg'], render: (_, row) => row.departments.map((department) => <Tag key={department}>{department}</Tag>) },
    { title: t('mdt.organizer'), key: 'organizer', width: 110, render: (_, row) => row.organizerName ?? <span data-identifier>{row.organizer}</span> },
    { title: t('mdt.status'), key: 'status', width: 90, render: (_, row) => <Tag color={STATUS_COLORS[row.status]}>{t(`mdt.status.${row.status}` as MessageKey)}</Tag> },
    {
      title: '',
      key: 'open',
      width: 80,
      render: (_, row) => (
        <Button size="small" onClick={() => select(row.id)} data-testid="mdt-open">
          {t('mdt.open')}
        </Button>
      ),
    },
  ];

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }} data-testid="mdt-page">
      <Card
        size="small"
        title={t('mdt.title')}
        extra={
          <Space>
            {mayWrite && (
              <Button type="primary" size="small" icon={<PlusOutlined />} onClick={() => setScheduling(true)} data-testid="mdt-schedule">
                {t('mdt.schedule')}
              </Button>
            )}
            <Button size="small" icon={<ReloadOutlined />} onClick={load} data-testid="mdt-refresh">
              {t('app.refresh')}
            </Button>
          </Space>
        }
      >
        {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="mdt-error" />}
        <Table<MdtSessionView>
          rowKey="id"
          size="small"
          loading={rows === undefined}
          columns={columns}
          dataSource={rows ?? []}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          locale={{ emptyText: t('mdt.empty') }}
          rowClassName={(row) => (row.id === selectedId ? 'ant-table-row-selected' : '')}
          onRow={(row) => ({ 'data-testid': 'mdt-row', 'data-session-id': row.id, 'data-status': row.status, onClick: () => select(row.id) }) as React.HTMLAttributes<HTMLTableRowElement>}
          data-testid="mdt-table"
        />
      </Card>
      {selectedId && <MdtSession key={selectedId} id={selectedId} onChanged={changed} />}
      {scheduling && (
        <MdtScheduleForm
          onClose={() => setScheduling(false)}
          onScheduled={(session) => {
            setScheduling(false);
            message.success(t('mdt.scheduledOk'));
            changed(session);
            select(session.id);
          }}
        />
      )}
    </Space>
  );
}

function MdtSession({ id, onChanged }: { id: string; onChanged: (session: MdtSessionView) => void }) {
  const t = useT();
  const user = useUser();
  const { message } = App.useApp();
  const [session, setSession] = useState<MdtSessionView>();
  const [error, setError] = useState<string>();
  const [viewing, setViewing] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<{ minutes: string; decisions?: string; followUpDate?: Dayjs | null }>();

  useEffect(() => {
    mdtApi
      .get(id)
      .then((next) => {
        setSession(next);
        form.setFieldsValue({ minutes: next.minutes ?? '', decisions: next.decisions.join('\n'), followUpDate: next.followUpDate ? dayjs(next.followUpDate) : null });
      })
      .catch((caught: unknown) => setError(refusalText(t, caught)));
  }, [id, t, form]);

  const update = async (action: () => Promise<MdtSessionView>, done: MessageKey) => {
    setBusy(true);
    try {
      const next = await action();
      setSession(next);
      onChanged(next);
      message.success(t(done));
    } catch (caught) {
      message.error(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };

  if (error) return <Alert type="error" showIcon title={error} data-testid="mdt-session-error" />;
  if (!session) return null;
  const me = session.participants.find((participant) => participant.username === user.username);
  const organizer = session.organizer === user.username && mayConsult(user.role, 'mdt:write');
  const saveMinutes = async () => {
    const values = await form.validateFields();
    await update(() => mdtApi.recordMinutes(session.id, { minutes: values.minutes.trim(), decisions: textLinesOf(values.decisions), ...(values.followUpDate ? { followUpDate: values.followUpDate.format('YYYY-MM-DD') } : {}) }), 'mdt.minutesSaved');
  };

  return (
    <Card
      size="small"
      title={`${t('mdt.session')} · ${session.title}`}
      data-testid="mdt-session"
      data-session-id={session.id}
      data-status={session.status}
      extra={
        <Space>
          {session.roomUrl && (
            <Button size="small" href={session.roomUrl} target="_blank" rel="noreferrer">
              {t('mdt.room')}
            </Button>
          )}
          {me && !me.attendedAt && session.status === 'scheduled' && (
            <Button type="primary" size="small" loading={busy} onClick={() => void update(() => mdtApi.attend(session.id), 'mdt.attendedOk')} data-testid="mdt-attend">
              {t('mdt.attend')}
            </Button>
          )}
        </Space>
      }
    >
      <Descriptions size="small" bordered column={{ xs: 1, md: 2 }}>
        <Descriptions.Item label={t('mdt.scheduledAt')}>{formatDateTime(session.scheduledAt)}</Descriptions.Item>
        <Descriptions.Item label={t('mdt.organizer')}>{session.organizerName ?? <span data-identifier>{session.organizer}</span>}</Descriptions.Item>
        <Descriptions.Item label={t('mdt.patient')}>{session.patient ? formatPersonName(session.patient.name) || <span data-identifier>{session.patient.patientId}</span> : '—'}</Descriptions.Item>
        <Descriptions.Item label={t('mdt.departments')}>
          {session.departments.map((department) => (
            <Tag key={department}>{department}</Tag>
          ))}
        </Descriptions.Item>
      </Descriptions>
      <Typography.Title level={5} style={{ marginTop: 12 }}>
        {t('mdt.studies')}
      </Typography.Title>
      <List
        size="small"
        dataSource={session.studyInstanceUids}
        renderItem={(uid) => (
          <List.Item
            data-testid="mdt-study"
            actions={[
              <Button key="open" size="small" type="link" onClick={() => setViewing(uid)} data-testid="mdt-study-open">
                {t('consult.viewImages')}
              </Button>,
            ]}
          >
            <Typography.Text code>{uid}</Typography.Text>
          </List.Item>
        )}
      />
      <Typography.Title level={5} style={{ marginTop: 12 }}>
        {t('mdt.participants')}
      </Typography.Title>
      <List
        size="small"
        dataSource={session.participants}
        renderItem={(participant) => (
          <List.Item data-testid="mdt-participant" data-username={participant.username} data-attended={String(!!participant.attendedAt)}>
            <Space wrap>
              <Typography.Text strong>{participant.displayName ?? <span data-identifier>{participant.username}</span>}</Typography.Text>
              <Tag>{participant.department}</Tag>
              {participant.attendedAt ? <Tag color="green">{t('mdt.attendedAt', { time: formatDateTime(participant.attendedAt) })}</Tag> : <Tag>{t('mdt.notAttended')}</Tag>}
            </Space>
          </List.Item>
        )}
      />
      <Typography.Title level={5} style={{ marginTop: 12 }}>
        {t('mdt.minutes')}
      </Typography.Title>
      {organizer && session.status !== 'cancelled' ? (
        <Form form={form} layout="vertical" data-testid="mdt-minutes-form">
          <Form.Item name="minutes" label={t('mdt.minutes')} rules={[{ required: true, whitespace: true, message: t('mdt.minutesRequired') }]}>
            <Input.TextArea rows={5} maxLength={10000} data-testid="mdt-minutes" />
          </Form.Item>
          <Form.Item name="decisions" label={t('mdt.decisions')}>
            <Input.TextArea rows={3} maxLength={4000} data-testid="mdt-decisions" />
          </Form.Item>
          <Form.Item name="followUpDate" label={t('mdt.followUpDate')}>
            <DatePicker data-testid="mdt-follow-up" />
          </Form.Item>
          <Button type="primary" loading={busy} onClick={() => void saveMinutes()} data-testid="mdt-save-minutes">
            {t('mdt.saveMinutes')}
          </Button>
        </Form>
      ) : (
        <div data-testid="mdt-record">
          <Typography.Paragraph style={{ whiteSpace: 'pre-wrap' }}>{session.minutes ?? '—'}</Typography.Paragraph>
          {session.decisions.length > 0 && (
            <ol>
              {session.decisions.map((decision, index) => (
                <li key={index}>{decision}</li>
              ))}
            </ol>
          )}
          {session.followUpDate && (
            <Typography.Text>
              {t('mdt.followUpDate')}：{session.followUpDate}
            </Typography.Text>
          )}
        </div>
      )}
      <StudyViewerModal studyInstanceUid={viewing} title={session.title} onClose={() => setViewing(undefined)} testId="mdt-viewer" />
    </Card>
  );
}

interface ScheduleValues {
  title: string;
  scheduledAt: Dayjs;
  studies: string;
  reportIds?: string;
  departments: string[];
  participants: Array<{ username: string; department: string }>;
  consultationId?: string;
}

function MdtScheduleForm({ onClose, onScheduled }: { onClose: () => void; onScheduled: (session: MdtSessionView) => void }) {
  const t = useT();
  const [form] = Form.useForm<ScheduleValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const departments = Form.useWatch('departments', form) ?? [];
  const required = { required: true, message: t('admin.required') };
  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      onScheduled(
        await mdtApi.schedule({
          title: values.title.trim(),
          scheduledAt: values.scheduledAt.toISOString(),
          studyInstanceUids: linesOf(values.studies),
          reportIds: linesOf(values.reportIds),
          departments: values.departments,
          participants: (values.participants ?? []).map((participant) => ({ username: participant.username.trim(), department: participant.department })),
          ...(values.consultationId?.trim() ? { consultationId: values.consultationId.trim() } : {}),
        }),
      );
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open width={680} title={t('mdt.schedule')} onCancel={onClose} onOk={() => void submit()} confirmLoading={busy} okText={t('mdt.schedule')} cancelText={t('app.cancel')} okButtonProps={{ 'data-testid': 'mdt-submit' } as Record<string, string>} destroyOnHidden>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="mdt-form-error" />}
      <Form form={form} layout="vertical" initialValues={{ participants: [{}] }} data-testid="mdt-form">
        <Form.Item name="title" label={t('mdt.sessionTitle')} rules={[{ ...required, whitespace: true }]}>
          <Input maxLength={200} data-testid="mdt-title" />
        </Form.Item>
        <Form.Item name="scheduledAt" label={t('mdt.scheduledAt')} rules={[required]}>
          <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" data-testid="mdt-scheduled-at" />
        </Form.Item>
        <Form.Item name="studies" label={t('consult.studies')} extra={t('consult.studiesHint')} rules={[{ validator: async (_, value: string | undefined) => { if (linesOf(value).length === 0) throw new Error(t('consult.studiesRequired')); } }]}>
          <Input.TextArea rows={2} data-testid="mdt-studies" />
        </Form.Item>
        <Form.Item name="reportIds" label={t('referral.reportIds')}>
          <Input.TextArea rows={1} data-testid="mdt-reports" />
        </Form.Item>
        <Form.Item name="departments" label={t('mdt.departments')} extra={t('mdt.departmentsHint')} rules={[{ ...required, type: 'array', min: 1 }]}>
          <Select mode="tags" tokenSeparators={[',', '，', ' ']} options={['放射科', '胸外科', '肿瘤科', '呼吸内科', '病理科'].map((value) => ({ value, label: value }))} data-testid="mdt-departments" />
        </Form.Item>
        <Form.List name="participants">
          {(fields, { add, remove }) => (
            <Form.Item label={t('mdt.participants')}>
              {fields.map((field) => (
                <Space key={field.key} align="baseline" style={{ display: 'flex' }}>
                  <Form.Item name={[field.name, 'username']} rules={[{ ...required, whitespace: true }]}>
                    <Input placeholder={t('mdt.participantUsername')} data-testid="mdt-participant-username" />
                  </Form.Item>
                  <Form.Item name={[field.name, 'department']} rules={[required]}>
                    <Select style={{ width: 160 }} placeholder={t('mdt.participantDepartment')} options={departments.map((value) => ({ value, label: value }))} data-testid="mdt-participant-department" />
                  </Form.Item>
                  <MinusCircleOutlined onClick={() => remove(field.name)} />
                </Space>
              ))}
              <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({})} data-testid="mdt-add-participant">
                {t('mdt.addParticipant')}
              </Button>
            </Form.Item>
          )}
        </Form.List>
        <Form.Item name="consultationId" label={t('mdt.consultationId')}>
          <Input maxLength={60} data-testid="mdt-consultation-id" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
