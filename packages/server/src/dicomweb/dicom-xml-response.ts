/**
 * application/dicom+xml answers (PS3.18 8.7.3.3, PS3.19 A.1): QIDO-RS results and WADO-RS
 * metadata as multipart/related; type="application/dicom+xml", one Native DICOM Model
 * document per data set. The XML writer is @yunying/dicom's toDicomXml.
 */
import type { FastifyReply } from 'fastify';
import { encodeMultipart, multipartContentType, newBoundary, toDicomXml, type DicomJsonDataset } from '@yunying/dicom';
import { typeMatches, type MediaRange } from './media-types.ts';

export const DICOM_XML = 'application/dicom+xml';

/**
 * The answer's media type, in Accept order: one of the JSON types (wildcards included), or
 * DICOM_XML for `multipart/related; type="application/dicom+xml"` (a bare
 * application/dicom+xml is answered the same way); undefined when neither is acceptable.
 */
export function negotiateJsonOrXml(accept: readonly MediaRange[], jsonTypes: readonly string[]): string | undefined {
  for (const range of accept) {
    if (range.type === DICOM_XML) return DICOM_XML;
    if (range.type === 'multipart/related') {
      if ((range.params.type ?? '').toLowerCase() === DICOM_XML) return DICOM_XML;
      continue;
    }
    const json = jsonTypes.find((t) => typeMatches(range.type, t));
    if (json) return json;
  }
  return undefined;
}

/** The data sets as a multipart/related answer of Native DICOM Model parts (none for an empty list). */
export async function sendDicomXml(reply: FastifyReply, datasets: Iterable<DicomJsonDataset> | AsyncIterable<DicomJsonDataset>): Promise<FastifyReply> {
  const boundary = newBoundary();
  const parts = [];
  for await (const dataset of datasets) parts.push({ contentType: DICOM_XML, body: Buffer.from(toDicomXml(dataset), 'utf8') });
  return reply.type(multipartContentType(boundary, DICOM_XML)).send(Buffer.from(encodeMultipart(boundary, parts)));
}
