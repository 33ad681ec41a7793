/**
 * The report's 报告编号 and its issued version (issue 14, item 4) as the report views show
 * them (the reading page, the township's report drawer): the number the PDF, the patient's
 * cloud-film page and FHIR carry, and 第 N 版 where the signature is 第 1 版 and each
 * addendum the next. The server counts the versions (reports/report-number.ts); the drafts
 * handed in and returned before the signature stay in the history, unnumbered.
 */
import type { ReactNode } from 'react';
import type { ReportDetail } from '../../api/types.ts';
import type { useT } from '../../i18n/i18n.tsx';

type T = ReturnType<typeof useT>;

/** "第 2 版" for an issued version, '' for a submission or a return. */
export function issuedVersionLabel(version: ReportDetail['versions'][number], t: T): string {
  return version.issuedVersion ? t('report.version', { version: version.issuedVersion }) : '';
}

/** Description items: 报告编号 (an identifier, shown as it is) and the current issued version. */
export function reportIdentityItems(report: Pick<ReportDetail, 'reportNumber' | 'issuedVersion'>, t: T): Array<{ key: string; label: string; children: ReactNode }> {
  const items: Array<{ key: string; label: string; children: ReactNode }> = [];
  if (report.reportNumber) {
    items.push({ key: 'number', label: t('report.number'), children: <span data-identifier data-testid="report-number">{report.reportNumber}</span> });
  }
  if (report.issuedVersion) {
    items.push({ key: 'issued', label: t('report.issuedVersion'), children: <span data-testid="report-issued-version" data-version={report.issuedVersion}>{t('report.version', { version: report.issuedVersion })}</span> });
  }
  return items;
}
