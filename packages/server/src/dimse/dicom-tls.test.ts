/**
 * DICOM over TLS on the server's DICOM port (YUNYING_DICOM_TLS_*): a C-ECHO over TLS works,
 * plain TCP does not associate, and with a CA only a peer presenting a certificate it signed
 * connects. The configuration refuses a certificate without its key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AssociationError, openAssociation, VERIFICATION_SOP_CLASS, type ScuOptions } from '@yunying/dimse';
import { startListeningServer, type ListeningServer } from '../test-support/listening-server.ts';
import { ConfigError, loadConfig } from '../config.ts';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
let work: string;
let certFile: string;
let keyFile: string;
let server: ListeningServer;
let mutual: ListeningServer;

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dicom-tls-'));
  certFile = path.join(work, 'cert.pem');
  keyFile = path.join(work, 'key.pem');
  // self-signed for 127.0.0.1: the server's certificate, the CA of the mutual-TLS server and the client's certificate at once
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  server = await startListeningServer({ YUNYING_DICOM_TLS_CERT_FILE: certFile, YUNYING_DICOM_TLS_KEY_FILE: keyFile });
  mutual = await startListeningServer({ YUNYING_DICOM_TLS_CERT_FILE: certFile, YUNYING_DICOM_TLS_KEY_FILE: keyFile, YUNYING_DICOM_TLS_CA_FILE: certFile });
});

after(async () => {
  await server?.close();
  await mutual?.close();
  rmSync(work, { recursive: true, force: true });
});

const echoOptions = (port: number, extra: Partial<ScuOptions> = {}): ScuOptions => ({
  host: '127.0.0.1',
  port,
  callingAeTitle: 'TLSTEST',
  calledAeTitle: 'YUNYING',
  presentationContexts: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [EXPLICIT_LE] }],
  connectTimeoutMs: 5000,
  ...extra,
});

test('C-ECHO over TLS; plain TCP to the TLS port does not associate', async () => {
  const client = await openAssociation(echoOptions(server.dicomPort, { tls: { ca: readFileSync(certFile) } }));
  assert.equal((await client.echo()).status, 0);
  await client.release();
  await assert.rejects(openAssociation(echoOptions(server.dicomPort)), AssociationError);
});

test('with YUNYING_DICOM_TLS_CA_FILE, only a peer with a certificate the CA signed connects', async () => {
  const ca = readFileSync(certFile);
  await assert.rejects(async () => {
    const client = await openAssociation(echoOptions(mutual.dicomPort, { tls: { ca } }));
    await client.echo();
  });
  const client = await openAssociation(echoOptions(mutual.dicomPort, { tls: { ca, cert: ca, key: readFileSync(keyFile) } }));
  assert.equal((await client.echo()).status, 0);
  await client.release();
});

test('a TLS certificate without its key is a configuration error', () => {
  assert.throws(() => loadConfig({ YUNYING_DICOM_TLS_CERT_FILE: certFile }), (err: unknown) => err instanceof ConfigError && /YUNYING_DICOM_TLS_KEY_FILE/.test(err.message));
});
