import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AuditRecorder } from '../access/audit-event.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { ReportService } from '../reports/report-service.ts';
import type { ReportDelivery } from '../reports/report-delivery.ts';
import { renderReportPdf } from '../reports/report-pdf.ts';
import { conflict } from '../errors.ts';

const Id = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });

/** The printable report: a PDF with the institution header, Chinese text and the cloud-film QR code. */
export async function registerReportDocumentRoutes(app: FastifyInstance, options: { reports: Pick<ReportService, 'reportForDelivery'>; delivery: ReportDelivery; audit: AuditRecorder; resolveCaller: HttpCallerResolver; timeZone: string }): Promise<void> {
  // The PDF names the patient and carries the cloud-film QR: checked before any lookup (issue 12, finding 2).
  app.get('/api/v1/reports/:id/pdf', { config: { permission: 'patients:read' }, schema: { tags: ['remote diagnosis'], params: Id } }, async (request, reply) => {
    const caller = await options.resolveCaller(request);
    const { report, request: readingRequest } = await options.reports.reportForDelivery(caller, (request.params as Static<typeof Id>).id);
    if (report.status !== 'signed') throw conflict('REPORT_NOT_SIGNED', 'only a signed report is printed');
    const document = await options.delivery.documentFor(readingRequest, report);
    const pdf = await renderReportPdf(document, { timeZone: options.timeZone, signatures: await options.delivery.signaturesFor(document) });
    await options.audit.record({ action: 'study.exported', caller, objectType: 'study', objectId: report.study_instance_uid, details: { format: 'pdf', reportId: report.id, version: report.version } });
    return reply
      .type('application/pdf')
      .header('Content-Disposition', `inline; filename="report-${report.id}-v${report.version}.pdf"`)
      .header('Cache-Control', 'private, no-store')
      .send(pdf);
  });
}
