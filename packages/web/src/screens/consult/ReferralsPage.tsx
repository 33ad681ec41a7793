import { useCallback, useEffect, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert, App, Button, Card, DatePicker, Descriptions, Form, Input, Modal, Radio, Select, Space, Table, Tabs, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { mayConsult, referralsApi, type ReferralDirection, type ReferralSuggestion, type ReferralView } from '../../api/consultations.ts';
import { useUser } from '../../app/auth.tsx';
import { dicomDateOf, formatDateTime, formatDicomDate, formatPersonName } from '../../app/format.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { linesOf, ReasonDialog } from './ReasonDialog.tsx';
import { ReferralDirectionTag, ReferralStatusTag } from './tags.tsx';

type Box = 'out' | 'in';
type Action = { kind: 'refuse' | 'complete' | 'cancel' | 'accept'; referral: ReferralView };

/**
 * 双向转诊 (issue 18): the referrals the caller's institution sent (转出) and received (转入).
 * The sending side creates one, up (上转) to the suggested centre or down (下转) with the
 * discharge summary and the follow-up plan, and may cancel it while it waits; the receiving
 * side accepts, refuses or completes it with the outcome, which the sending side then sees.
 */
export default function ReferralsPage() {
  const t = useT();
  const [params, setParams] = useSearchParams();
  const tab: Box = params.get('box') === 'in' ? 'in' : 'out';
  return (
    <Card size="small" title={t('referral.title')} data-testid="referrals-page">
      <Tabs
        activeKey={tab}
        onChange={(key) => {
          const next = new URLSearchParams(params);
          next.set('box', key);
          setParams(next, { replace: true });
        }}
        items={(['out', 'in'] as const).map((box) => ({ key: box, label: <span data-testid={`referrals-tab-${box}`}>{t(`referral.tab.${box}`)}</span>, children: <ReferralList box={box} /> }))}
        destroyOnHidden
      />
    </Card>
  );
}

function ReferralList({ box }: { box: Box }) {
  const t = useT();
  const user = useUser();
  const codes = useCodeLabels();
  const { message } = App.useApp();
  const [rows, setRows] = useState<ReferralView[]>();
  const [error, setError] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [action, setAction] = useState<Action>();
  const mayWrite = mayConsult(user.role, 'referral:write');

  const load = useCallback(() => {
    referralsApi
      .list(box)
      .then((list) => {
        setRows(list);
        setError(undefined);
      })
      .catch((caught: unknown) => {
        setRows([]);
        setError(refusalText(t, caught));
      });
  }, [box, t]);
  useEffect(load, [load]);
  const changed = (referral: ReferralView) => {
    setRows((current) => (current ?? []).map((row) => (row.id === referral.id ? referral : row)));
    message.success(t('referral.doneOk'));
  };

  const columns: ColumnsType<ReferralView> = [
    { title: t('referral.direction'), key: 'direction', width: 70, render: (_, row) => <ReferralDirectionTag direction={row.direction} /> },
    { title: t('referral.status'), key: 'status', width: 90, render: (_, row) => <ReferralStatusTag status={row.status} /> },
    { title: t('referral.patient'), key: 'patient', width: 140, render: (_, row) => <PatientCell referral={row} sex={codes.sex(row.patient.sex)} /> },
    box === 'out'
      ? { title: t('referral.to'), key: 'to', width: 170, render: (_, row) => row.toInstitutionName ?? <span data-identifier>{row.toInstitutionId}</span> }
      : { title: t('referral.from'), key: 'from', width: 170, render: (_, row) => row.fromInstitutionName ?? <span data-identifier>{row.fromInstitutionId}</span> },
    { title: t('referral.reason'), dataIndex: 'reason', ellipsis: true },
    { title: t('referral.outcome'), key: 'outcome', ellipsis: true, render: (_, row) => <span data-testid="referral-outcome">{row.outcome ?? ''}</span> },
    { title: t('referral.createdAt'), dataIndex: 'createdAt', width: 140, responsive: ['lg'], render: (value: string) => formatDateTime(value) },
    {
      title: t('referral.actions'),
      key: 'actions',
      width: 170,
      render: (_, row) =>
        mayWrite && (
          <Space size={4} wrap>
            {box === 'in' && row.status === 'requested' && (
              <>
                <Button size="small" type="primary" onClick={() => setAction({ kind: 'accept', referral: row })} data-testid="referral-accept">
                  {t('referral.accept')}
                </Button>
                <Button size="small" danger onClick={() => setAction({ kind: 'refuse', referral: row })} data-testid="referral-refuse">
                  {t('referral.refuse')}
                </Button>
              </>
            )}
            {box === 'in' && row.status === 'accepted' && (
              <Button size="small" type="primary" onClick={() => setAction({ kind: 'complete', referral: row })} data-testid="referral-complete">
                {t('referral.complete')}
              </Button>
            )}
            {box === 'out' && row.status === 'requested' && (
              <Button size="small" danger onClick={() => setAction({ kind: 'cancel', referral: row })} data-testid="referral-cancel">
                {t('referral.cancel')}
              </Button>
            )}
          </Space>
        ),
    },
  ];

  return (
    <Space direction="vertical" size={8} style={{ width: '100%' }} data-testid={`referrals-${box}`}>
      <Space wrap>
        {box === 'out' && mayWrite && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="referral-create">
            {t('referral.create')}
          </Button>
        )}
        <Button icon={<ReloadOutlined />} onClick={load} data-testid="referrals-refresh">
          {t('app.refresh')}
        </Button>
      </Space>
      {error && <Alert type="error" showIcon title={error} data-testid="referrals-error" />}
      <Table<ReferralView>
        rowKey="id"
        size="small"
        loading={rows === undefined}
        columns={columns}
        dataSource={rows ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: t('referral.empty') }}
        expandable={{ expandedRowRender: (row) => <ReferralDetails referral={row} /> }}
        onRow={(row) => ({ 'data-testid': 'referral-row', 'data-referral-id': row.id, 'data-status': row.status, 'data-direction': row.direction }) as React.HTMLAttributes<HTMLTableRowElement>}
        data-testid="referrals-table"
      />
      {creating && (
        <ReferralForm
          onClose={() => setCreating(false)}
          onCreated={(created) => {
            setCreating(false);
            message.success(t('referral.createdOk'));
            setRows((current) => [created, ...(current ?? [])]);
          }}
        />
      )}
      {action?.kind === 'accept' && <ReasonDialog title={t('referral.accept')} label={t('referral.note')} required={false} testId="referral-accept" onClose={() => setAction(undefined)} onSubmit={async (note) => changed(await referralsApi.accept(action.referral.id, note || undefined))} />}
      {action?.kind === 'refuse' && <ReasonDialog title={t('referral.refuse')} label={t('consult.reason')} okDanger testId="referral-refuse" onClose={() => setAction(undefined)} onSubmit={async (reason) => changed(await referralsApi.refuse(action.referral.id, reason))} />}
      {action?.kind === 'complete' && <ReasonDialog title={t('referral.complete')} label={t('referral.outcome')} testId="referral-complete" onClose={() => setAction(undefined)} onSubmit={async (outcome) => changed(await referralsApi.complete(action.referral.id, outcome))} />}
      {action?.kind === 'cancel' && <ReasonDialog title={t('referral.cancel')} label={t('consult.reason')} okDanger testId="referral-cancel" onClose={() => setAction(undefined)} onSubmit={async (reason) => changed(await referralsApi.cancel(action.referral.id, reason))} />}
    </Space>
  );
}

function PatientCell({ referral, sex }: { referral: ReferralView; sex: string }) {
  const name = formatPersonName(referral.patient.name);
  return (
    <Space size={4}>
      {name ? <Typography.Text>{name}</Typography.Text> : <span data-identifier>{referral.patient.patientId}</span>}
      {sex && <Typography.Text type="secondary">{sex}</Typography.Text>}
    </Space>
  );
}

function ReferralDetails({ referral }: { referral: ReferralView }) {
  const t = useT();
  return (
    <Descriptions size="small" column={{ xs: 1, md: 2 }} bordered data-testid="referral-details">
      <Descriptions.Item label={t('referral.patientId')}>
        <span data-identifier>{referral.patient.patientId}</span>
      </Descriptions.Item>
      <Descriptions.Item label={t('referral.birthDate')}>{formatDicomDate(referral.patient.birthDate)}</Descriptions.Item>
      <Descriptions.Item label={t('referral.from')}>{referral.fromInstitutionName ?? <span data-identifier>{referral.fromInstitutionId}</span>}</Descriptions.Item>
      <Descriptions.Item label={t('referral.to')}>{referral.toInstitutionName ?? <span data-identifier>{referral.toInstitutionId}</span>}</Descriptions.Item>
      <Descriptions.Item label={t('referral.requestedBy')}>{referral.requestedByName ?? <span data-identifier>{referral.requestedBy}</span>}</Descriptions.Item>
      <Descriptions.Item label={t('referral.studies')}>
        {referral.studyInstanceUids.map((uid) => (
          <div key={uid}>
            <Typography.Text code>{uid}</Typography.Text>
          </div>
        ))}
      </Descriptions.Item>
      {referral.dischargeSummary && (
        <Descriptions.Item label={t('referral.dischargeSummary')} span={2}>
          <span style={{ whiteSpace: 'pre-wrap' }}>{referral.dischargeSummary}</span>
        </Descriptions.Item>
      )}
      {referral.followUpPlan && (
        <Descriptions.Item label={t('referral.followUpPlan')} span={2}>
          <span style={{ whiteSpace: 'pre-wrap' }}>{referral.followUpPlan}</span>
        </Descriptions.Item>
      )}
      {referral.responseNote && (
        <Descriptions.Item label={t('referral.responseNote')} span={2}>
          {referral.responseNote}
        </Descriptions.Item>
      )}
      {referral.outcome && (
        <Descriptions.Item label={t('referral.outcome')} span={2}>
          <span data-testid="referral-outcome-detail">{referral.outcome}</span>
        </Descriptions.Item>
      )}
    </Descriptions>
  );
}

interface ReferralValues {
  direction: ReferralDirection;
  toInstitutionId: string;
  patientId: string;
  name?: string;
  sex?: string;
  birthDate?: Dayjs | null;
  reason: string;
  studies: string;
  reportIds?: string;
  dischargeSummary?: string;
  followUpPlan?: string;
}

function ReferralForm({ onClose, onCreated }: { onClose: () => void; onCreated: (referral: ReferralView) => void }) {
  const t = useT();
  const user = useUser();
  const [form] = Form.useForm<ReferralValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [suggestions, setSuggestions] = useState<ReferralSuggestion[]>([]);
  const direction = Form.useWatch('direction', form) ?? 'up';
  const down = direction === 'down';
  const required = { required: true, whitespace: true, message: t('admin.required') };

  useEffect(() => {
    referralsApi
      .suggestions(user.institutionId, direction)
      .then((list) => {
        setSuggestions(list);
        // the first suggestion is the one to go to (the alliance's centre first)
        if (!form.getFieldValue('toInstitutionId') || !list.some((item) => item.institutionId === form.getFieldValue('toInstitutionId'))) form.setFieldValue('toInstitutionId', list[0]?.institutionId);
      })
      .catch(() => setSuggestions([]));
  }, [user.institutionId, direction, form]);

  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      onCreated(
        await referralsApi.create({
          direction: values.direction,
          patient: { patientId: values.patientId.trim(), ...(values.name?.trim() ? { name: values.name.trim() } : {}), ...(values.sex ? { sex: values.sex } : {}), ...(values.birthDate ? { birthDate: dicomDateOf(values.birthDate.toDate()) } : {}) },
          fromInstitutionId: user.institutionId,
          toInstitutionId: values.toInstitutionId,
          reason: values.reason.trim(),
          studyInstanceUids: linesOf(values.studies),
          reportIds: linesOf(values.reportIds),
          ...(values.dischargeSummary?.trim() ? { dischargeSummary: values.dischargeSummary.trim() } : {}),
          ...(values.followUpPlan?.trim() ? { followUpPlan: values.followUpPlan.trim() } : {}),
        }),
      );
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal open width={680} title={t('referral.create')} onCancel={onClose} onOk={() => void submit()} confirmLoading={busy} okText={t('referral.create')} cancelText={t('app.cancel')} okButtonProps={{ 'data-testid': 'referral-submit' } as Record<string, string>} destroyOnHidden>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="referral-form-error" />}
      <Form form={form} layout="vertical" initialValues={{ direction: 'up' }} data-testid="referral-form">
        <Form.Item name="direction" label={t('referral.direction')} rules={[{ required: true }]}>
          <Radio.Group optionType="button" buttonStyle="solid" options={(['up', 'down'] as const).map((value) => ({ value, label: t(`referral.direction.${value}`) }))} data-testid="referral-direction" />
        </Form.Item>
        <Form.Item name="toInstitutionId" label={t('referral.to')} extra={down ? undefined : t('referral.toHint')} rules={[{ required: true, message: t('admin.required') }]}>
          <Select
            showSearch={{ optionFilterProp: 'title' }}
            options={suggestions.map((item) => ({ value: item.institutionId, title: item.name, label: `${item.name} · ${t(`referral.basis.${item.basis}` as MessageKey)}` }))}
            data-testid="referral-to"
          />
        </Form.Item>
        <Space wrap align="start">
          <Form.Item name="patientId" label={t('referral.patientId')} rules={[required]}>
            <Input maxLength={64} data-testid="referral-patient-id" />
          </Form.Item>
          <Form.Item name="name" label={t('referral.patientName')}>
            <Input maxLength={64} data-testid="referral-patient-name" />
          </Form.Item>
          <Form.Item name="sex" label={t('referral.sex')}>
            <Select allowClear style={{ width: 90 }} options={['M', 'F', 'O'].map((value) => ({ value, label: t(`referral.sex.${value}` as MessageKey) }))} data-testid="referral-patient-sex" />
          </Form.Item>
          <Form.Item name="birthDate" label={t('referral.birthDate')}>
            <DatePicker data-testid="referral-patient-birth" />
          </Form.Item>
        </Space>
        <Form.Item name="reason" label={t('referral.reason')} rules={[required]}>
          <Input.TextArea rows={2} maxLength={2000} data-testid="referral-reason" />
        </Form.Item>
        <Form.Item name="studies" label={t('referral.studies')} extra={t('consult.studiesHint')} rules={[{ validator: async (_, value: string | undefined) => { if (linesOf(value).length === 0) throw new Error(t('consult.studiesRequired')); } }]}>
          <Input.TextArea rows={2} data-testid="referral-studies" />
        </Form.Item>
        <Form.Item name="reportIds" label={t('referral.reportIds')}>
          <Input.TextArea rows={1} data-testid="referral-reports" />
        </Form.Item>
        {down && <Alert type="info" showIcon title={t('referral.downNeeds')} style={{ marginBottom: 8 }} />}
        <Form.Item name="dischargeSummary" label={t('referral.dischargeSummary')} rules={down ? [required] : []} hidden={!down}>
          <Input.TextArea rows={3} maxLength={8000} data-testid="referral-discharge" />
        </Form.Item>
        <Form.Item name="followUpPlan" label={t('referral.followUpPlan')} rules={down ? [required] : []} hidden={!down}>
          <Input.TextArea rows={2} maxLength={4000} data-testid="referral-follow-up" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
