import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';

/**
 * The media types whose answers are compressed for a client that accepts it: the study's
 * metadata and query results (DICOM JSON and XML, FHIR JSON). A viewer opening a 300-slice CT
 * on a township's 4 Mbit/s line waited 0.6 s for 254 kB of instance JSON that compresses
 * about tenfold (docs/benchmarks.md, "Viewer bundle (issue 16)").
 *
 * Deliberately not compressed: the REST API's own JSON (login answers hold tokens, and a secret
 * beside reflected input in a compressed body is what BREACH reads), pixel data and DICOM files
 * (already compressed or not worth the CPU on the way out), the web app's files (the build
 * ships them precompressed) and the event stream (compression would hold its events back).
 */
export const COMPRESSED_MEDIA_TYPES = /^(application\/(dicom\+json|dicom\+xml|fhir\+json)|multipart\/related;\s*type="?application\/dicom\+xml)/i;

export async function registerResponseCompression(http: FastifyInstance): Promise<void> {
  await http.register(compress, {
    globalCompression: true,
    // Bodies in requests stay as sent: STOW-RS parses its own stream.
    globalDecompression: false,
    encodings: ['br', 'gzip'],
    customTypes: COMPRESSED_MEDIA_TYPES,
    // Below a few kB the saving is smaller than a round trip is worth.
    threshold: 2048,
  });
}
