/**
 * One HTTP call of a test against a listening server (startListeningServer), over a real
 * socket: the status, the body parsed as JSON when it is JSON (else the text), the text and
 * the headers. Tests that act as several users wrap it with their own token table.
 */
export interface HttpAnswer {
  status: number;
  /** JSON when the answer parses as JSON, otherwise the text */
  body: unknown;
  text: string;
  headers: Headers;
}

export interface HttpCallOptions {
  /** sent as `Authorization: Bearer …` */
  token?: string;
  /** `user:password`, sent as HTTP Basic */
  basic?: string;
  /** a JSON body */
  body?: unknown;
  /** a body as it is (a STOW-RS multipart payload); give its content type in headers */
  raw?: Buffer;
  headers?: Record<string, string>;
}

export async function callHttp(baseUrl: string, method: string, url: string, options: HttpCallOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.basic) headers.authorization = `Basic ${Buffer.from(options.basic).toString('base64')}`;
  let body: Buffer | string | undefined = options.raw;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${baseUrl}${url}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: parseJsonOrText(text), text, headers: response.headers };
}

/** A STOW-RS body (dicomweb/test-support.ts stowBody) as call options: its content type, DICOM JSON back. */
export function stowOptions(stow: { payload: Buffer; contentType: string }, token?: string): HttpCallOptions {
  return { token, raw: stow.payload, headers: { 'content-type': stow.contentType, accept: 'application/dicom+json' } };
}

/** POST /api/v1/auth/login; throws with the answer when it is not 200. */
export async function loginForToken(baseUrl: string, username: string, password: string): Promise<string> {
  const answer = await callHttp(baseUrl, 'POST', '/api/v1/auth/login', { body: { username, password } });
  if (answer.status !== 200) throw new Error(`login of ${username}: ${answer.status} ${answer.text}`);
  return (answer.body as { token: string }).token;
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
