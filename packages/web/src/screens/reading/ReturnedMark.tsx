import { useNavigate } from 'react-router-dom';
import { App, Button, Tag, Tooltip, Typography } from 'antd';
import type { ReadingRequest } from '../../api/types.ts';
import { useT } from '../../i18n/i18n.tsx';
import { useUser } from '../../app/auth.tsx';
import { useLiveEvents } from '../../app/live-events.tsx';

/** 已退回 on a worklist row whose report the reviewer sent back, until it is submitted again. */
export function ReturnedTag({ row }: { row: ReadingRequest }) {
  const t = useT();
  if (row.reportStatus !== 'returned') return null;
  return (
    <Tooltip title={row.reviewComments ? t('worklist.returnedComments', { comments: row.reviewComments }) : undefined}>
      <Tag color="red" data-testid="returned-tag">
        {t('worklist.returned')}
      </Tag>
    </Tooltip>
  );
}

/** The reviewer's comments of a returned report, as a line under the patient on the author's list. */
export function ReturnedComments({ row }: { row: ReadingRequest }) {
  const t = useT();
  if (row.reportStatus !== 'returned' || !row.reviewComments) return null;
  return (
    <div>
      <Typography.Text type="danger" ellipsis={{ tooltip: row.reviewComments }} style={{ fontSize: 12, maxWidth: '100%' }} data-testid="returned-comments-row">
        {t('worklist.returnedComments', { comments: row.reviewComments })}
      </Typography.Text>
    </div>
  );
}

/**
 * The author hears of a return at once: the event stream's report.returned names the
 * author, and their screen shows a notice with a way to the report.
 */
export function useReturnedNotices(): void {
  const t = useT();
  const user = useUser();
  const navigate = useNavigate();
  const { notification } = App.useApp();
  useLiveEvents((event) => {
    if (event.type !== 'report.returned' || event.payload.author !== user.username) return;
    const requestId = typeof event.payload.requestId === 'string' ? event.payload.requestId : undefined;
    const key = `returned-${String(event.payload.reportId)}`;
    notification.warning({
      key,
      title: t('notice.returnedTitle'),
      description: <span data-testid="returned-notice">{t('notice.returnedBody', { reviewer: String(event.payload.reviewerName ?? event.payload.reviewer ?? '') })}</span>,
      actions: requestId ? (
        <Button
          size="small"
          type="primary"
          onClick={() => {
            notification.destroy(key);
            navigate(`/reading/${requestId}`);
          }}
        >
          {t('notice.open')}
        </Button>
      ) : undefined,
      duration: 15,
    });
  });
}
