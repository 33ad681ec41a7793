import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { request, type IncomingMessage } from 'node:http';
import { splitPart10 } from '@yunying/dicom';
import { systemCaller } from '../access/caller.ts';
import { startListeningServer } from '../test-support/listening-server.ts';
import { APPLICATION_CONTEXT_NAME, encodeAssociateRq, encodePDataHeader, PDU_TYPE, COMMAND, DATASET_PRESENT, encodeCommand, openAssociation, VERIFICATION_SOP_CLASS } from '@yunying/dimse';
import { makeSyntheticInstance } from '../test-support/synthetic-dicom.ts';
import { ADMIN_AUTH, withAdmin } from '../test-support/admin-auth.ts';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';

async function blobCount(dataDir: string): Promise<number> {
  const entries = await readdir(path.join(dataDir, 'blobs'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).length;
}

/** Reads from the socket until a whole PDU of the given type has arrived. */
async function awaitPdu(socket: Socket, type: number): Promise<void> {
  let received = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    received = Buffer.concat([received, chunk]);
    if (received.length >= 6 && received.length >= 6 + received.readUInt32BE(2)) {
      assert.equal(received[0], type, `expected PDU type ${type}, got ${received[0]}`);
      return;
    }
  }
}

test('a C-STORE cut off mid-data set stores nothing, and the server keeps serving', async () => {
  const { server, dicomPort, dataDir, close } = await startListeningServer({ YUNYING_FSYNC: 'true' });
  try {
    const instance = makeSyntheticInstance({ size: 512 });
    const { datasetOffset } = splitPart10(instance.bytes);
    const dataset = instance.bytes.subarray(datasetOffset);

    const socket = connect(dicomPort, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(encodeAssociateRq({
      protocolVersion: 1, calledAeTitle: 'YUNYING', callingAeTitle: 'DROPPER', applicationContext: APPLICATION_CONTEXT_NAME,
      presentationContexts: [{ id: 1, abstractSyntax: instance.sopClassUid, transferSyntaxes: [EXPLICIT_LE] }],
      userInformation: { maxPduLength: 16384, roleSelections: [], other: [] },
    }));
    await awaitPdu(socket, PDU_TYPE.ASSOCIATE_AC);
    const command = encodeCommand({ commandField: COMMAND.C_STORE_RQ, messageId: 1, affectedSopClassUid: instance.sopClassUid, affectedSopInstanceUid: instance.sopInstanceUid, priority: 0, commandDataSetType: DATASET_PRESENT });
    socket.write(Buffer.concat([encodePDataHeader(1, true, true, command.length), command]));
    const half = dataset.subarray(0, Math.floor(dataset.length / 2));
    socket.write(Buffer.concat([encodePDataHeader(1, false, false, half.length), half])); // not the last fragment
    socket.destroy(); // the township's network drops here
    await once(socket, 'close');

    // The server still answers, on DIMSE and HTTP, and nothing of the half instance remains.
    const client = await openAssociation({ host: '127.0.0.1', port: dicomPort, callingAeTitle: 'CHECKER', calledAeTitle: 'YUNYING', presentationContexts: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: ['1.2.840.10008.1.2'] }] });
    assert.equal((await client.echo()).status, 0);
    await client.release();
    assert.equal(await server.archive.index.countInstances(), 0);
    assert.equal(await blobCount(dataDir), 0);

    // The resend after the network comes back is stored whole.
    const result = await server.archive.ingest(systemCaller(), { kind: 'part10', bytes: instance.bytes });
    assert.equal(result.outcome, 'stored');
  } finally {
    await close();
  }
});

test('a STOW-RS upload cut off mid-body stores nothing, and the server keeps serving', async () => {
  const { server, httpPort, dataDir, close } = await startListeningServer({ YUNYING_FSYNC: 'true' });
  try {
    const instance = makeSyntheticInstance({ size: 512 });
    const boundary = 'drop-test-boundary';
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), instance.bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const upload = request({
      host: '127.0.0.1', port: httpPort, method: 'POST', path: '/dicom-web/studies',
      headers: { authorization: ADMIN_AUTH, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`, 'content-length': body.length },
    });
    const failed = once(upload, 'error').catch(() => undefined);
    upload.write(body.subarray(0, Math.floor(body.length / 2)));
    await new Promise((resolve) => setImmediate(resolve));
    upload.destroy(new Error('network dropped'));
    await failed;

    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`, withAdmin());
    assert.equal(health.status, 200);
    assert.equal(await server.archive.index.countInstances(), 0);
    assert.equal(await blobCount(dataDir), 0);

    const retry = await fetch(`http://127.0.0.1:${httpPort}/dicom-web/studies`, withAdmin({ method: 'POST', headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` }, body }));
    assert.equal(retry.status, 200);
    assert.equal(await server.archive.index.countInstances(), 1);
  } finally {
    await close();
  }
});

test('a viewer that hangs up in the middle of a WADO-RS study download does not disturb the server', async () => {
  const { server, httpPort, close } = await startListeningServer();
  try {
    const first = makeSyntheticInstance({ size: 512 });
    const caller = systemCaller();
    await server.archive.ingest(caller, { kind: 'part10', bytes: first.bytes });
    for (let n = 2; n <= 30; n++) {
      await server.archive.ingest(caller, { kind: 'part10', bytes: makeSyntheticInstance({ size: 512, studyInstanceUid: first.studyInstanceUid, seriesInstanceUid: first.seriesInstanceUid, instanceNumber: n }).bytes });
    }
    const download = request({ host: '127.0.0.1', port: httpPort, path: `/dicom-web/studies/${first.studyInstanceUid}`, headers: { authorization: ADMIN_AUTH, accept: 'multipart/related; type="application/dicom"' } });
    const responded = once(download, 'response');
    download.end();
    const [response] = (await responded) as [IncomingMessage];
    assert.equal(response.statusCode, 200);
    await once(response, 'data');
    response.destroy(); // the phone goes into a tunnel
    download.destroy();

    const again = await fetch(`http://127.0.0.1:${httpPort}/dicom-web/studies/${first.studyInstanceUid}`, withAdmin({ headers: { accept: 'multipart/related; type="application/dicom"' } }));
    assert.equal(again.status, 200);
    const body = Buffer.from(await again.arrayBuffer());
    assert.equal(body.length, Number(again.headers.get('content-length')));
    assert.ok(body.includes(first.bytes));
  } finally {
    await close();
  }
});
