import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitPart10 } from '@yunying/dicom';
import { startListeningServer } from '../test-support/listening-server.ts';
import { openAssociation, VERIFICATION_SOP_CLASS, type DimseClient } from '@yunying/dimse';
import { readSample } from '@yunying/testing/samples';
import { withAdmin } from '../test-support/admin-auth.ts';

/** Real samples of different shapes: native, encapsulated, big endian, deflated, multi-frame, SR, Chinese text. */
const SEEDS = [
  'transfer-syntax/mr-small/MR_small.dcm',
  'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.4.50_jpeg-baseline.dcm',
  'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.2_explicit-vr-be.dcm',
  'transfer-syntax/ct-same-image/ct_1.2.840.10008.1.2.1.99_deflated.dcm',
  'transfer-syntax/mr-small/MR_small_RLE.dcm',
  'charset/chrX2.dcm',
  'modality/sr/basic_text_sr.dcm',
  'multiframe/enhanced_mr_10f.dcm',
];

/** Deterministic PRNG (mulberry32): the same mutants every run, so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Mutation = (bytes: Buffer, next: () => number) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  truncate: (bytes, next) => bytes.subarray(0, 132 + Math.floor(next() * (bytes.length - 132))),
  flipBytes: (bytes, next) => {
    const copy = Buffer.from(bytes);
    for (let i = 0; i < 16; i++) copy[132 + Math.floor(next() * (copy.length - 132))] ^= 1 + Math.floor(next() * 255);
    return copy;
  },
  hugeLength: (bytes, next) => {
    const copy = Buffer.from(bytes);
    const at = 132 + 2 * Math.floor((next() * (copy.length - 140)) / 2);
    copy.writeUInt32LE(0xfffffff0 - Math.floor(next() * 1000) * 2, at);
    return copy;
  },
  insertGarbage: (bytes, next) => {
    const at = 132 + Math.floor(next() * (bytes.length - 132));
    const garbage = Buffer.alloc(1 + Math.floor(next() * 64));
    for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(next() * 256);
    return Buffer.concat([bytes.subarray(0, at), garbage, bytes.subarray(at)]);
  },
};

function* mutants(): Generator<{ name: string; seed: Buffer; mutant: Buffer }> {
  const next = random(20261123);
  for (const file of SEEDS) {
    const seed = readSample(file);
    for (const [kind, mutate] of Object.entries(MUTATIONS)) {
      for (let round = 0; round < 3; round++) yield { name: `${file} ${kind}#${round}`, seed, mutant: mutate(seed, next) };
    }
  }
}

async function stow(baseUrl: string, part: Buffer): Promise<number> {
  const boundary = 'fuzz-boundary-7d1';
  const response = await fetch(`${baseUrl}/dicom-web/studies`, withAdmin({
    method: 'POST',
    headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
    body: Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), part, Buffer.from(`\r\n--${boundary}--\r\n`)]),
  }));
  const body = await response.text();
  if (response.status !== 200) JSON.parse(body); // every answer is a well-formed DICOM JSON or error body
  return response.status;
}

/** One presentation context per SOP class and transfer syntax: an SCP accepts one syntax per context. */
async function associate(dicomPort: number, headers: Array<{ sopClassUid: string; transferSyntaxUid: string }>): Promise<DimseClient> {
  const pairs = [...new Set(headers.map((h) => `${h.sopClassUid} ${h.transferSyntaxUid}`))].map((pair) => pair.split(' '));
  return openAssociation({
    host: '127.0.0.1',
    port: dicomPort,
    callingAeTitle: 'FUZZER',
    calledAeTitle: 'YUNYING',
    presentationContexts: [{ abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: ['1.2.840.10008.1.2'] }, ...pairs.map(([sopClass, syntax]) => ({ abstractSyntax: sopClass, transferSyntaxes: [syntax] }))],
  });
}

test('mutated copies of real samples get clear answers on STOW-RS and C-STORE, and the server keeps serving', async () => {
  const { baseUrl, dicomPort, close } = await startListeningServer();
  try {
    const headers = SEEDS.map((file) => splitPart10(readSample(file)));
    let client = await associate(dicomPort, headers);
    const statuses = new Map<string, number>();
    const aborts: string[] = [];
    for (const { name, seed, mutant } of mutants()) {
      const stowStatus = await stow(baseUrl, mutant);
      assert.ok([200, 202, 409].includes(stowStatus), `${name}: STOW-RS answered ${stowStatus}`);

      // Over DIMSE the seed's own header names the SOP and syntax; the data set is the mutant's.
      const header = splitPart10(seed);
      const response = await client.store({ sopClassUid: header.sopClassUid, sopInstanceUid: header.sopInstanceUid, transferSyntaxUid: header.transferSyntaxUid, dataset: mutant.subarray(header.datasetOffset) }).catch((e: Error) => { aborts.push(`${name}: ${e.message}`); return undefined; });
      if (!response) {
        client = await associate(dicomPort, headers); // an abort is allowed; the server must accept the next association
        continue;
      }
      statuses.set(name, response.status);
      const isSuccess = response.status === 0;
      const isWarning = (response.status & 0xf000) === 0xb000;
      const isFailure = (response.status & 0xf000) === 0xa000 || (response.status & 0xf000) === 0xc000 || response.status === 0x0110 || response.status === 0x0111;
      assert.ok(isSuccess || isWarning || isFailure, `${name}: C-STORE status ${response.status.toString(16)}`);
      if (isFailure) assert.ok(response.errorComment, `${name}: a failure carries an Error Comment`);
    }
    assert.ok([...statuses.values()].some((s) => s !== 0), `some mutants must be refused: ${JSON.stringify([...statuses])} aborts: ${aborts.slice(0, 5).join("; ")}`);
    if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify({ statuses: [...statuses.values()].map((s) => s.toString(16)), aborts }));
    assert.equal((await client.echo()).status, 0);
    await client.release();
    assert.equal((await fetch(`${baseUrl}/healthz`, withAdmin())).status, 200);
    assert.equal(await stow(baseUrl, readSample('charset/chrX1.dcm')), 200);
  } finally {
    await close();
  }
});
