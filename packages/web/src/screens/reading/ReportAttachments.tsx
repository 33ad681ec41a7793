/**
 * Measurements and key images of a report (issue 14, item 7). While writing: 插入测量 puts
 * the viewer's new measurements into the findings at the cursor ("长径 23.4 mm（序列 2，
 * 图像 45）") and keeps them with the report; 标记关键图像 keeps the image on screen. The
 * reviewer (and any later reader) sees both lists; a click on one shows its image.
 */
import { useEffect, useRef, useState } from 'react';
import { App, Button, Card, Empty, List, Space, Tag, Typography } from 'antd';
import { CameraOutlined, ColumnWidthOutlined } from '@ant-design/icons';
import { api, apiFetch } from '../../api/client.ts';
import type { ImageRef, ReportAttachments, ReportKeyImage, ReportMeasurement } from '../../api/report-library.ts';
import { useT } from '../../i18n/i18n.tsx';
import { currentImage, readMeasurements, roundMeasurement, type ViewerMeasurement } from '../../viewer/measurements.ts';
import type { ViewerController } from '../../viewer/viewer-controller.ts';

type Translate = ReturnType<typeof useT>;

/** "（序列 2，图像 45）" / " (series 2, image 45)" */
export function imageLabel(t: Translate, image: Pick<ImageRef, 'seriesNumber' | 'instanceNumber' | 'frame'>): string {
  const series = image.seriesNumber ?? '?';
  const number = image.instanceNumber ?? image.frame;
  return image.frame > 1 ? t('aids.imageRefFrame', { series, image: number, frame: image.frame }) : t('aids.imageRef', { series, image: number });
}

/** The text a measurement is inserted as. */
export function measurementText(t: Translate, m: ViewerMeasurement): string {
  const value = `${roundMeasurement(m.value)}${m.tool === 'angle' ? '' : ' '}${m.unit}`;
  const base = m.tool === 'length' ? t('aids.length', { value }) : m.tool === 'angle' ? t('aids.angle', { value }) : t('aids.area', { value });
  const mean = m.mean !== undefined ? t('aids.mean', { value: `${roundMeasurement(m.mean)}${m.meanUnit ? ` ${m.meanUnit}` : ''}` }) : '';
  return `${base}${mean}${imageLabel(t, m)}`;
}

/** The report's attachments (none until loaded: undefined, so a save does not replace them). */
export function useReportAttachments(reportId: string | undefined): [ReportAttachments | undefined, (next: ReportAttachments) => void] {
  const [attachments, setAttachments] = useState<ReportAttachments | undefined>(reportId ? undefined : { measurements: [], keyImages: [] });
  useEffect(() => {
    if (!reportId) return;
    let live = true;
    api
      .get<ReportAttachments>(`/api/v1/reports/${reportId}/attachments`)
      .then((loaded) => live && setAttachments((current) => current ?? loaded))
      .catch(() => live && setAttachments((current) => current ?? { measurements: [], keyImages: [] }));
    return () => {
      live = false;
    };
    // what the editor holds wins over what loads later (current ?? loaded)
  }, [reportId]);
  return [attachments, setAttachments];
}

/** The editor's buttons and lists; `onInsert` puts text at the findings' cursor. */
export function AttachmentsEditor({ viewer, value, onChange, onInsert }: { viewer: ViewerController | undefined; value: ReportAttachments | undefined; onChange: (next: ReportAttachments) => void; onInsert: (text: string) => void }) {
  const t = useT();
  const { message } = App.useApp();
  const inserted = useRef(new Set<string>());
  const attachments = value ?? { measurements: [], keyImages: [] };

  const insertMeasurements = () => {
    const fresh = readMeasurements(viewer).filter((m) => !inserted.current.has(m.uid));
    if (fresh.length === 0) {
      message.info(t('aids.noMeasurements'));
      return;
    }
    const added: ReportMeasurement[] = fresh.map((m) => ({ studyInstanceUid: m.studyInstanceUid, seriesInstanceUid: m.seriesInstanceUid, sopInstanceUid: m.sopInstanceUid, frame: m.frame, seriesNumber: m.seriesNumber, instanceNumber: m.instanceNumber, tool: m.tool, value: Math.round(m.value * 100) / 100, unit: m.unit, text: measurementText(t, m) }));
    for (const m of fresh) inserted.current.add(m.uid);
    onInsert(added.map((m) => m.text).join(t('aids.separator')));
    onChange({ ...attachments, measurements: [...attachments.measurements, ...added] });
  };

  const markKeyImage = () => {
    const image = currentImage(viewer);
    if (!image) {
      message.info(t('aids.noImage'));
      return;
    }
    if (attachments.keyImages.some((k) => k.sopInstanceUid === image.sopInstanceUid && k.frame === image.frame)) {
      message.info(t('aids.keyImageExists'));
      return;
    }
    onChange({ ...attachments, keyImages: [...attachments.keyImages, { ...image, note: null }] });
    message.success(t('aids.keyImageMarked', { image: imageLabel(t, image) }));
  };

  return (
    <div data-testid="report-attachments-editor">
      <Space wrap size={6}>
        <Button size="small" icon={<ColumnWidthOutlined />} onClick={insertMeasurements} disabled={!viewer || value === undefined} data-testid="insert-measurements">
          {t('aids.insertMeasurements')}
        </Button>
        <Button size="small" icon={<CameraOutlined />} onClick={markKeyImage} disabled={!viewer || value === undefined} data-testid="mark-key-image">
          {t('aids.markKeyImage')}
        </Button>
      </Space>
      <AttachmentLists attachments={attachments} viewer={viewer} onRemoveMeasurement={(index) => onChange({ ...attachments, measurements: attachments.measurements.filter((_, i) => i !== index) })} onRemoveKeyImage={(index) => onChange({ ...attachments, keyImages: attachments.keyImages.filter((_, i) => i !== index) })} />
    </div>
  );
}

function AttachmentLists({ attachments, viewer, onRemoveMeasurement, onRemoveKeyImage }: { attachments: ReportAttachments; viewer: ViewerController | undefined; onRemoveMeasurement?: (index: number) => void; onRemoveKeyImage?: (index: number) => void }) {
  const t = useT();
  const { message } = App.useApp();
  const show = (image: ReportKeyImage | ReportMeasurement) => {
    if (!viewer) return;
    void viewer.showImage(image.seriesInstanceUid, image.sopInstanceUid, image.frame).then((shown) => {
      if (!shown) message.warning(t('aids.imageNotFound'));
    });
  };
  return (
    <>
      {attachments.keyImages.length > 0 && (
        <div style={{ marginTop: 6 }} data-testid="key-images">
          <Typography.Text type="secondary">{t('aids.keyImages')}：</Typography.Text>
          {attachments.keyImages.map((image, index) => (
            <Tag
              key={`${image.sopInstanceUid}/${image.frame}`}
              color="gold"
              closable={Boolean(onRemoveKeyImage)}
              onClose={(event) => {
                event.preventDefault();
                onRemoveKeyImage?.(index);
              }}
              style={{ cursor: viewer ? 'pointer' : undefined, marginBlock: 2 }}
              onClick={() => show(image)}
              data-testid="key-image"
              data-sop-instance-uid={image.sopInstanceUid}
              data-frame={image.frame}
            >
              <KeyImageThumbnail image={image} />
              {imageLabel(t, image).replace(/^[\s（(]+|[）)]+$/g, '')}
              {image.note ? ` · ${image.note}` : ''}
            </Tag>
          ))}
        </div>
      )}
      {attachments.measurements.length > 0 && (
        <List
          size="small"
          style={{ marginTop: 4 }}
          header={<Typography.Text type="secondary">{t('aids.measurements')}</Typography.Text>}
          dataSource={attachments.measurements}
          data-testid="measurements"
          renderItem={(m, index) => (
            <List.Item
              data-testid="measurement"
              style={{ paddingBlock: 2 }}
              actions={onRemoveMeasurement ? [<Button key="remove" size="small" type="link" onClick={() => onRemoveMeasurement(index)}>{t('aids.remove')}</Button>] : undefined}
            >
              <Typography.Link onClick={() => show(m)} disabled={!viewer}>
                {m.text}
              </Typography.Link>
            </List.Item>
          )}
        />
      )}
    </>
  );
}

/** A small rendering of the key image by the server (WADO-RS rendered frame), beside its label. */
function KeyImageThumbnail({ image }: { image: ImageRef }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let url: string | undefined;
    let live = true;
    const path = `/dicom-web/studies/${image.studyInstanceUid}/series/${image.seriesInstanceUid}/instances/${image.sopInstanceUid}/frames/${image.frame}/rendered?viewport=48,48`;
    apiFetch(path, { headers: { accept: 'image/jpeg' } })
      .then(async (response) => (response.ok ? response.blob() : undefined))
      .then((blob) => {
        if (!blob || !live) return;
        url = URL.createObjectURL(blob);
        setSrc(url);
      })
      .catch(() => undefined);
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [image.studyInstanceUid, image.seriesInstanceUid, image.sopInstanceUid, image.frame]);
  return src ? <img src={src} alt="" width={24} height={24} style={{ objectFit: 'contain', background: '#000', marginInlineEnd: 4, verticalAlign: 'middle' }} data-testid="key-image-thumbnail" /> : null;
}

/** For the reviewer and later readers: the report's measurements and key images; a click shows the image. */
export function ReportAttachmentsView({ reportId, viewer }: { reportId: string; viewer: ViewerController | undefined }) {
  const t = useT();
  const [attachments, setAttachments] = useState<ReportAttachments>();
  useEffect(() => {
    let live = true;
    api
      .get<ReportAttachments>(`/api/v1/reports/${reportId}/attachments`)
      .then((loaded) => live && setAttachments(loaded))
      .catch(() => live && setAttachments({ measurements: [], keyImages: [] }));
    return () => {
      live = false;
    };
  }, [reportId]);
  if (!attachments || (attachments.measurements.length === 0 && attachments.keyImages.length === 0)) return null;
  return (
    <Card size="small" title={t('aids.title')} data-testid="report-attachments" style={{ marginTop: 8 }}>
      {attachments.keyImages.length === 0 && attachments.measurements.length === 0 ? <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} /> : <AttachmentLists attachments={attachments} viewer={viewer} />}
    </Card>
  );
}
