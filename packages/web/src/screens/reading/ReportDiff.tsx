import { Card, Descriptions, Space, Tag, Typography } from 'antd';
import type { ReportDetail, ReportSignature, ReportVersion } from '../../api/types.ts';
import { useT } from '../../i18n/i18n.tsx';
import { formatDateTime } from '../../app/format.ts';

/** One piece of a diff: text both have, text only the new one has, text only the old one had. */
export interface DiffPart {
  type: 'same' | 'added' | 'removed';
  text: string;
}

/** Above this many cells (tokens × tokens) a changed block is shown as removed-then-added instead of word by word. */
const MAX_CELLS = 2_000_000;

/**
 * Words as a Chinese reader sees them: each hanzi on its own, runs of Latin letters and
 * digits (6mm, CT, 12.5) together, runs of white space, and any other character alone.
 */
export function tokenize(text: string): string[] {
  return text.match(/[\u3400-\u9fff\uf900-\ufaff]|[A-Za-z0-9.]+|\s+|[^]/gu) ?? [];
}

/** The longest common subsequence of two sequences as a diff (old → new). */
function lcs(a: readonly string[], b: readonly string[]): DiffPart[] {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_CELLS) return [...(n ? [{ type: 'removed' as const, text: a.join('') }] : []), ...(m ? [{ type: 'added' as const, text: b.join('') }] : [])];
  // lengths[i][j]: LCS of a[i..] and b[j..], in one flat array
  const width = m + 1;
  const lengths = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lengths[i * width + j] = a[i] === b[j] ? lengths[(i + 1) * width + j + 1]! + 1 : Math.max(lengths[(i + 1) * width + j]!, lengths[i * width + j + 1]!);
  }
  const parts: DiffPart[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      parts.push({ type: 'same', text: a[i]! });
      i++;
      j++;
    } else if (j < m && (i === n || lengths[i * width + j + 1]! >= lengths[(i + 1) * width + j]!)) parts.push({ type: 'added', text: b[j++]! });
    else parts.push({ type: 'removed', text: a[i++]! });
  }
  return parts;
}

function merged(parts: readonly DiffPart[]): DiffPart[] {
  const out: DiffPart[] = [];
  for (const part of parts) {
    if (!part.text) continue;
    const last = out.at(-1);
    if (last && last.type === part.type) last.text += part.text;
    else out.push({ ...part });
  }
  return out;
}

/**
 * A line-then-word diff of two texts: lines first (a report of many lines stays cheap), then
 * the words of each changed block of lines, so that 直径约6mm added to a sentence shows as
 * just that.
 */
export function diffText(before: string, after: string): DiffPart[] {
  const lines = (text: string) => text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const byLine = lcs(lines(before), lines(after));
  const out: DiffPart[] = [];
  let removed = '';
  let added = '';
  const flush = () => {
    if (removed || added) out.push(...lcs(tokenize(removed), tokenize(added)));
    removed = '';
    added = '';
  };
  for (const part of byLine) {
    if (part.type === 'same') {
      flush();
      out.push(part);
    } else if (part.type === 'removed') removed += part.text;
    else added += part.text;
  }
  flush();
  return merged(out);
}

/** The diff of two texts, inline: removed struck through in red, added in green. */
export function TextDiff({ before, after, testId }: { before: string; after: string; testId?: string }) {
  const t = useT();
  const parts = diffText(before, after);
  const changed = parts.some((part) => part.type !== 'same');
  return (
    <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', marginBottom: 4 }} data-testid={testId} data-changed={String(changed)}>
      {parts.map((part, n) =>
        part.type === 'same' ? (
          <span key={n}>{part.text}</span>
        ) : part.type === 'removed' ? (
          <del key={n} data-testid="diff-removed" style={{ color: '#cf1322', background: '#fff1f0' }}>
            {part.text}
          </del>
        ) : (
          <ins key={n} data-testid="diff-added" style={{ color: '#389e0d', background: '#f6ffed', textDecoration: 'none', borderBottom: '1px solid #95de64' }}>
            {part.text}
          </ins>
        ),
      )}
      {!changed && (
        <Typography.Text type="secondary" style={{ marginInlineStart: 6 }}>
          ({t('diff.unchanged')})
        </Typography.Text>
      )}
    </Typography.Paragraph>
  );
}

/** The author's submitted version and the reviewer's text of a signature that edited it, or undefined. */
export function reviewEditPair(report: Pick<ReportDetail, 'versions' | 'signatures'>): { signature: ReportSignature; submitted: ReportVersion; edited: ReportVersion } | undefined {
  for (const signature of [...(report.signatures ?? [])].reverse()) {
    if (signature.reviewEditVersion === null) continue;
    const submitted = report.versions.find((version) => version.version === signature.submittedVersion);
    const edited = report.versions.find((version) => version.version === signature.reviewEditVersion);
    if (submitted && edited) return { signature, submitted, edited };
  }
  return undefined;
}

/** Findings, impression and the positive mark: the author's against the reviewer's. */
export function ReportDiff({ before, after }: { before: Pick<ReportVersion, 'findings' | 'impression' | 'positive'>; after: Pick<ReportVersion, 'findings' | 'impression' | 'positive'> }) {
  const t = useT();
  const mark = (positive: boolean | null) => (positive === null ? '' : positive ? t('reading.positive') : t('reading.negative'));
  return (
    <div data-testid="report-diff">
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {t('diff.legend')}
      </Typography.Text>
      <Typography.Title level={5} style={{ marginTop: 6 }}>
        {t('reading.findings')}
      </Typography.Title>
      <TextDiff before={before.findings} after={after.findings} testId="diff-findings" />
      <Typography.Title level={5}>{t('reading.impression')}</Typography.Title>
      <TextDiff before={before.impression} after={after.impression} testId="diff-impression" />
      {before.positive !== after.positive && (
        <Space data-testid="diff-positive">
          <Tag>
            <del>{mark(before.positive)}</del>
          </Tag>
          →<Tag color={after.positive ? 'red' : 'green'}>{mark(after.positive)}</Tag>
        </Space>
      )}
    </div>
  );
}

/**
 * A signed report's review record: its electronic signature (who, when, how) for every
 * reader, and for the reading centre the diff between the author's submitted text and the
 * reviewer's, when the reviewer edited before signing.
 */
export function ReviewRecord({ report, showDiff }: { report: Pick<ReportDetail, 'versions' | 'signatures' | 'reviewer' | 'reviewerName'>; showDiff: boolean }) {
  const t = useT();
  const signature = report.signatures?.at(-1);
  if (!signature) return null;
  const pair = showDiff ? reviewEditPair(report) : undefined;
  const editor = pair && (report.versions.find((version) => version.version === pair.edited.version) as (ReportVersion & { savedByName?: string | null }) | undefined);
  return (
    <div data-testid="review-record">
      <Descriptions
        size="small"
        column={1}
        items={[
          {
            key: 'signature',
            label: t('esign.signature'),
            children: (
              <span data-testid="esign-record" data-method={signature.method}>
                {[signature.signerName || signature.signer, formatDateTime(signature.signedAt), signature.method === 'pin' ? t('esign.methodPin') : t('esign.methodPassword')].join(' · ')}
              </span>
            ),
          },
        ]}
      />
      {pair && (
        <Card size="small" type="inner" title={`${t('diff.title')} · ${editor?.savedByName || pair.edited.savedBy}`} style={{ marginBottom: 8 }}>
          <ReportDiff before={pair.submitted} after={pair.edited} />
        </Card>
      )}
    </div>
  );
}
