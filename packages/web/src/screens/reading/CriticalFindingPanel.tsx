import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, Descriptions, Form, Input, Modal, Select, Space, Tag, Typography, type ButtonProps } from 'antd';
import { AlertOutlined } from '@ant-design/icons';
import { CRITICAL_ACKNOWLEDGERS, CRITICAL_EVENT_TYPES, CRITICAL_FLAGGERS, criticalApi, type CriticalCategory, type CriticalFinding } from '../../api/critical-findings.ts';
import { useI18n, type MessageKey } from '../../i18n/i18n.tsx';
import { useUser } from '../../app/auth.tsx';
import { useLiveEvents } from '../../app/live-events.tsx';
import { formatDateTime, formatDuration } from '../../app/format.ts';
import { AcknowledgeModal, useCategoryLabel } from '../township/CriticalAlertBanner.tsx';

/**
 * 危急值 of one reading request, on the reading page and in the report view: each finding
 * with its acknowledgement (who received it, how the clinician was told, when). A
 * radiologist of the reading centre flags one here; someone at the requesting institution
 * acknowledges an open one here too.
 */
export function CriticalFindingPanel({ requestId, readingInstitutionId, requestingInstitutionId, requestStatus }: { requestId: string; readingInstitutionId: string; requestingInstitutionId: string; requestStatus?: string }) {
  const { t } = useI18n();
  const user = useUser();
  const { message } = App.useApp();
  const categoryLabel = useCategoryLabel();
  const [findings, setFindings] = useState<CriticalFinding[]>();
  const [flagging, setFlagging] = useState(false);
  const [acknowledging, setAcknowledging] = useState<CriticalFinding>();

  const load = useCallback(() => {
    criticalApi
      .ofRequest(requestId)
      .then(setFindings)
      .catch(() => setFindings([]));
  }, [requestId]);
  useEffect(load, [load]);
  useLiveEvents((event) => {
    if ((CRITICAL_EVENT_TYPES as readonly string[]).includes(event.type) && event.payload.requestId === requestId) load();
  });

  const mayFlag = CRITICAL_FLAGGERS.includes(user.role) && user.institutionId === readingInstitutionId && requestStatus !== 'cancelled';
  const mayAcknowledge = CRITICAL_ACKNOWLEDGERS.includes(user.role) && user.institutionId === requestingInstitutionId;
  if (!findings) return null;
  if (findings.length === 0 && !mayFlag) return null;
  return (
    <Card
      size="small"
      title={
        <Space>
          <AlertOutlined style={{ color: '#cf1322' }} />
          {t('critical.title')}
        </Space>
      }
      extra={
        mayFlag && (
          <Button size="small" danger type="primary" onClick={() => setFlagging(true)} data-testid="critical-flag">
            {t('critical.flag')}
          </Button>
        )
      }
      data-testid="critical-findings"
      styles={findings.some((finding) => finding.status === 'open') ? { header: { background: '#fff1f0' } } : undefined}
    >
      {findings.length === 0 ? (
        <Typography.Text type="secondary">{t('critical.none')}</Typography.Text>
      ) : (
        <Space direction="vertical" style={{ width: '100%' }} size={8}>
          {findings.map((finding) => (
            <div key={finding.id} data-testid="critical-finding" data-status={finding.status}>
              <Space wrap size={6} style={{ marginBottom: 4 }}>
                <Typography.Text strong style={{ color: '#cf1322' }}>
                  {categoryLabel(finding)}
                </Typography.Text>
                <Tag color={finding.status === 'open' ? 'red' : 'green'}>{t(`critical.status.${finding.status}` as MessageKey)}</Tag>
                {finding.escalations > 0 && <Tag color="orange">{t('critical.escalations', { count: finding.escalations })}</Tag>}
                {finding.smsStatus && <Tag>{t(`critical.sms.${finding.smsStatus}` as MessageKey)}</Tag>}
                {finding.status === 'open' && mayAcknowledge && (
                  <Button size="small" danger type="primary" onClick={() => setAcknowledging(finding)} data-testid="critical-acknowledge">
                    {t('critical.acknowledge')}
                  </Button>
                )}
              </Space>
              <Descriptions
                size="small"
                column={1}
                items={[
                  ...(finding.note ? [{ key: 'note', label: t('critical.note'), children: <span style={{ whiteSpace: 'pre-wrap' }}>{finding.note}</span> }] : []),
                  { key: 'by', label: t('critical.flaggedBy'), children: `${finding.flaggedByName ?? finding.flaggedBy} · ${formatDateTime(finding.flaggedAt)}` },
                  ...(finding.acknowledgement
                    ? [
                        { key: 'received', label: t('critical.receivedBy'), children: <span data-testid="critical-received-by">{finding.acknowledgement.receivedBy}</span> },
                        { key: 'via', label: t('critical.informedVia'), children: `${t(`critical.via.${finding.acknowledgement.informedVia}` as MessageKey)}${finding.acknowledgement.clinicianName ? ` · ${finding.acknowledgement.clinicianName}` : ''} · ${formatDateTime(finding.acknowledgement.informedAt)}` },
                        { key: 'ack', label: t('critical.acknowledgedAt'), children: `${formatDateTime(finding.acknowledgement.acknowledgedAt)}${finding.secondsToAcknowledge !== null ? ` (${t('critical.timeToAck')} ${formatDuration(finding.secondsToAcknowledge)})` : ''}` },
                      ]
                    : []),
                ]}
              />
            </div>
          ))}
        </Space>
      )}
      {flagging && (
        <FlagModal
          requestId={requestId}
          onClose={() => setFlagging(false)}
          onDone={() => {
            setFlagging(false);
            message.success(t('critical.flagged'));
            load();
          }}
        />
      )}
      {acknowledging && (
        <AcknowledgeModal
          finding={acknowledging}
          onClose={() => setAcknowledging(undefined)}
          onDone={() => {
            setAcknowledging(undefined);
            load();
          }}
        />
      )}
    </Card>
  );
}

function FlagModal({ requestId, onClose, onDone }: { requestId: string; onClose: () => void; onDone: () => void }) {
  const { t, locale } = useI18n();
  const { message } = App.useApp();
  const [categories, setCategories] = useState<CriticalCategory[]>([]);
  const [form] = Form.useForm<{ category: string; note?: string }>();
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    criticalApi
      .categories()
      .then(setCategories)
      .catch((caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));
  }, [message]);
  const submit = async () => {
    const values = await form.validateFields();
    setSaving(true);
    try {
      await criticalApi.flag(requestId, { category: values.category, ...(values.note?.trim() ? { note: values.note.trim() } : {}) });
      onDone();
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setSaving(false);
    }
  };
  return (
    <Modal open title={t('critical.flag')} onCancel={onClose} onOk={() => void submit()} okText={t('critical.flag')} confirmLoading={saving} okButtonProps={{ danger: true, 'data-testid': 'critical-flag-submit' } as ButtonProps} destroyOnHidden>
      <Form form={form} layout="vertical" data-testid="critical-flag-form">
        <Form.Item name="category" label={t('critical.category')} rules={[{ required: true, message: t('critical.categoryPlaceholder') }]}>
          <Select
            showSearch
            optionFilterProp="label"
            placeholder={t('critical.categoryPlaceholder')}
            options={categories.map((category) => ({ value: category.code, label: locale === 'zh-CN' ? category.zh : category.en }))}
            data-testid="critical-category"
          />
        </Form.Item>
        <Form.Item name="note" label={t('critical.note')}>
          <Input.TextArea rows={3} maxLength={2000} placeholder={t('critical.notePlaceholder')} data-testid="critical-note" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
