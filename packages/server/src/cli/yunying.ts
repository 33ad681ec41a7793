/**
 * `npx yunying <command>`: administration on the server's own database, for the hospital
 * IT engineer at the console (first institutions, users and AE titles before the web UI
 * exists, and the audit-chain check). Reads the same configuration as the server.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { AccessService, INSTITUTION_TIERS, type InstitutionTier } from '../access/access-service.ts';
import { configurePasswordHashing, generatePassword } from '../access/passwords.ts';
import { systemCaller, type Caller } from '../access/caller.ts';
import { auditExportLines } from '../access/audit-export.ts';
import { parseChainHead, type ChainAnchor } from '../access/audit-trail.ts';
import { readFile } from 'node:fs/promises';
import { ROLES } from '../access/roles.ts';
import { openArchive, type Archive } from '../archive/archive.ts';
import { MODULES } from '../app.ts';
import { moduleMigrations } from '../modules/registry.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { feedStatusLines } from '../feed/feed-admin.ts';
import { removeUserSignature, setUserSignature } from '../reports/signatures.ts';
import { YunyingError } from '../errors.ts';

const USAGE = `usage: yunying <command>

  institution add ID --name NAME [--tier province|city|county|township] [--grade 1|2|3]
                     [--region CODE] [--parent ID]
  institution list
  institution serve CENTRE_ID MEMBER_ID     the diagnostic centre serves the member (医共体)
  user add USERNAME --role ROLE --institution ID [--name DISPLAY] [--password-stdin]
                     (without --password-stdin a random password is generated and printed)
  user list
  user passwd USERNAME --password-stdin
  user disable USERNAME | user enable USERNAME
  user signature USERNAME PNG_FILE           the signer's signature image on the report PDF (a PNG
                                             of at most 256 KiB); --remove takes it away
  ae add AE_TITLE --institution ID [--host HOST --port PORT] [--description TEXT]
  ae list
  ae remove AE_TITLE
  audit verify [--expect-head SEQ:HASH|FILE] checks the audit trail's keyed hash chain and
                                             prints its head; with a head recorded earlier (a
                                             previous verify, the server's daily log line, or
                                             a file holding one), also that the chain still
                                             passes through it: a cut tail or a rewrite shows
  audit export [--format ndjson|csv]         writes the trail to standard output
  feed status                                the change feed's consumer groups (cursor, lag, lease,
                                             retries) and its dead letters with their last error
  feed requeue GROUP SEQ                     puts a dead letter back in line once its cause is fixed
  feed forget GROUP                          removes the cursor of a group no server runs any more
                                             (it holds the purge of old changes back)

roles: ${ROLES.join(', ')}
Configuration: the server's (YUNYING_DATA_DIR, YUNYING_DATABASE_URL, YUNYING_CONFIG, …).`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseCommandLine(argv);
  const [group, command, ...rest] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!group) usage('a command is required');
  const config = loadConfig();
  const archive = await openArchive({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, storageUrl: config.storageUrl, awsEnv: config.awsEnv, fsync: config.fsync, auditKey: config.auditKey, auditKeyFile: config.auditKeyFile, moduleMigrations: moduleMigrations(MODULES) });
  try {
    // Keys the chain on a first run after the upgrade. Another key than the chain's, or a
    // chain that lost its keying record, stops every command but `audit verify`, which says where.
    const keyingError = await archive.audit.ensureKeyed().then(() => undefined, (error: unknown) => error);
    if (keyingError && `${group} ${command ?? ''}` !== 'audit verify') throw keyingError;
    configurePasswordHashing(config.passwordHashing);
    const access = new AccessService(archive.accessStore, archive.audit, { tokenTtlSeconds: config.tokenTtlSeconds, unitOfWork: archive.unitOfWork });
    // The console operator acts as the platform administrator; the trail names the OS user.
    const caller: Caller = { ...systemCaller(`cli:${userInfo().username}`), via: 'cli' };
    return await run({ group, command, rest, values, access, archive, caller, keyingError });
  } finally {
    await archive.close();
  }
}

/** node:util's parser, with its errors (unknown option, missing value) as usage errors. */
function parseCommandLine(argv: string[]) {
  try {
    return parseCommandLineStrict(argv);
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) usage((error as Error).message);
    throw error;
  }
}

function parseCommandLineStrict(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      tier: { type: 'string' },
      grade: { type: 'string' },
      region: { type: 'string' },
      parent: { type: 'string' },
      role: { type: 'string' },
      institution: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      host: { type: 'string' },
      port: { type: 'string' },
      description: { type: 'string' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      'expect-head': { type: 'string' },
      remove: { type: 'boolean' },
    },
  });
}

interface RunContext {
  group: string;
  command: string | undefined;
  rest: string[];
  values: Record<string, string | boolean | undefined>;
  access: AccessService;
  archive: Archive;
  caller: Caller;
  /** why the chain could not be keyed (then nothing is appended to it) */
  keyingError?: unknown;
}

async function run(ctx: RunContext): Promise<number> {
  const { group, command, rest, values, access, caller } = ctx;
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const required = (name: string): string => text(name) ?? usage(`--${name} is required`);
  const argument = (index: number, what: string): string => rest[index] ?? usage(`${what} is required`);
  switch (`${group} ${command ?? ''}`.trim()) {
    case 'institution add': {
      const tier = text('tier');
      if (tier !== undefined && !(INSTITUTION_TIERS as readonly string[]).includes(tier)) usage(`--tier must be one of ${INSTITUTION_TIERS.join(', ')}`);
      const grade = text('grade') === undefined ? undefined : Number(text('grade'));
      if (grade !== undefined && grade !== 1 && grade !== 2 && grade !== 3) usage('--grade must be 1, 2 or 3');
      const created = await access.createInstitution(caller, { id: argument(0, 'ID'), name: required('name'), tier: tier as InstitutionTier | undefined, grade, regionCode: text('region'), parentId: text('parent') });
      console.log(JSON.stringify(created));
      return 0;
    }
    case 'institution list':
      for (const institution of await access.listInstitutions(caller)) console.log(JSON.stringify(institution));
      return 0;
    case 'institution serve':
      await access.addAllianceMember(caller, argument(0, 'CENTRE_ID'), argument(1, 'MEMBER_ID'));
      return 0;
    case 'user add': {
      const username = argument(0, 'USERNAME');
      // a generated password satisfies the policy like any other (access/passwords.ts)
      const generated = values['password-stdin'] ? undefined : generatePassword(username);
      const password = generated ?? (await readPassword());
      const user = await access.createUser(caller, { username, password, role: required('role'), institutionId: required('institution'), displayName: text('name') });
      console.log(JSON.stringify(user));
      if (generated) console.log(`password: ${generated}`);
      return 0;
    }
    case 'user list':
      for (const user of await access.listUsers(caller)) console.log(JSON.stringify(user));
      return 0;
    case 'user passwd':
      if (!values['password-stdin']) usage('user passwd reads the new password from --password-stdin');
      await access.updateUser(caller, argument(0, 'USERNAME'), { password: await readPassword() });
      return 0;
    case 'user disable':
    case 'user enable':
      await access.updateUser(caller, argument(0, 'USERNAME'), { enabled: command === 'enable' });
      return 0;
    case 'user signature': {
      const username = argument(0, 'USERNAME');
      const deps = { access: ctx.archive.accessStore, unitOfWork: ctx.archive.unitOfWork };
      if (values.remove) {
        const removed = await removeUserSignature(deps, caller, username);
        console.log(removed ? `signature removed: ${username}` : `no signature was set for ${username}`);
        return 0;
      }
      const file = argument(1, 'PNG_FILE');
      const png = await readFile(file).catch((error: unknown) => usage(`cannot read ${file}: ${(error as Error).message}`));
      console.log(JSON.stringify({ username, ...(await setUserSignature(deps, caller, username, png)) }));
      return 0;
    }
    case 'ae add': {
      const port = text('port') === undefined ? undefined : Number(text('port'));
      if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) usage('--port must be a TCP port');
      console.log(JSON.stringify(await access.registerAe(caller, { aeTitle: argument(0, 'AE_TITLE'), institutionId: required('institution'), host: text('host'), port, description: text('description') })));
      return 0;
    }
    case 'ae list':
      for (const ae of await access.listAes(caller)) console.log(JSON.stringify(ae));
      return 0;
    case 'ae remove':
      await access.removeAe(caller, argument(0, 'AE_TITLE'));
      return 0;
    case 'audit verify': {
      const expected = text('expect-head');
      const anchor = expected === undefined ? undefined : await expectedHead(expected);
      if (ctx.keyingError) console.error(`yunying: ${(ctx.keyingError as Error).message}`);
      const result = await ctx.archive.audit.verify(anchor);
      // The head is printed every time, broken or not: keep it outside this machine.
      if (result.ok) console.log(`audit trail intact: ${result.count} records, head ${result.head}`);
      else {
        console.error(`audit trail BROKEN at record ${result.brokenAt!.seq}: ${result.brokenAt!.reason} (${result.headSeq} records verified before it)`);
        console.log(`head of the part that verified: ${result.head}`);
      }
      console.log(result.keyedFromSeq === null ? `not keyed (audit key id ${result.keyId})` : `keyed from record ${result.keyedFromSeq} (audit key id ${result.keyId})${anchor ? `; passes through the expected head: ${result.ok ? 'yes' : 'no'}` : ''}`);
      if (!ctx.keyingError) await ctx.archive.audit.record({ action: 'audit.verified', caller, objectType: 'audit', details: { ok: result.ok, count: result.count, head: result.head, expectHead: anchor ? `${anchor.seq}:${anchor.hash}` : null } });
      return result.ok ? 0 : 1;
    }
    case 'audit export': {
      const format = text('format') ?? 'ndjson';
      if (format !== 'ndjson' && format !== 'csv') usage('--format is ndjson or csv');
      await ctx.archive.audit.record({ action: 'audit.exported', caller, objectType: 'audit', details: { format } });
      for await (const line of auditExportLines(ctx.archive.audit, { format, columns: CLI_CSV_COLUMNS })) process.stdout.write(line);
      return 0;
    }
    case 'feed status':
      for (const line of await feedStatusLines(ctx.archive.stores.changeFeed)) console.log(line);
      return 0;
    case 'feed requeue': {
      const consumerGroup = argument(0, 'GROUP');
      const seq = Number(argument(1, 'SEQ'));
      if (!Number.isSafeInteger(seq) || seq <= 0) usage('SEQ is the dead letter\'s change number (yunying feed status)');
      if (!(await ctx.archive.stores.changeFeed.requeueDeadLetter(consumerGroup, seq))) {
        console.error(`no dead letter ${seq} in group ${consumerGroup}`);
        return 1;
      }
      await ctx.archive.audit.record({ action: 'feed.requeued', caller, details: { group: consumerGroup, seq } });
      console.log(`requeued: ${consumerGroup} ${seq} (the group's lease holder tries it within seconds)`);
      return 0;
    }
    case 'feed forget': {
      const consumerGroup = argument(0, 'GROUP');
      if (!(await ctx.archive.stores.changeFeed.forgetGroup(consumerGroup))) {
        console.error(`no group ${consumerGroup}, or a server holds its lease (it still runs)`);
        return 1;
      }
      await ctx.archive.audit.record({ action: 'feed.forgotten', caller, details: { group: consumerGroup } });
      console.log(`forgotten: ${consumerGroup}`);
      return 0;
    }
    default:
      return usage(`unknown command: ${group} ${command ?? ''}`);
  }
}

/** The console's CSV leaves out the actor kind and the previous hash (the chain check has them). */
const CLI_CSV_COLUMNS = ['seq', 'occurred_at', 'action', 'outcome', 'actor_name', 'actor_role', 'actor_institution_id', 'remote_address', 'via', 'object_type', 'object_id', 'patient_id', 'details', 'hash'] as const;

/** --expect-head: SEQ:HASH, or a file holding one (a saved verify output or log line: its last SEQ:HASH). */
async function expectedHead(value: string): Promise<ChainAnchor> {
  const direct = parseChainHead(value);
  if (direct) return direct;
  let content: string;
  try {
    content = await readFile(value, 'utf8');
  } catch {
    return usage('--expect-head is SEQ:HASH as printed by audit verify, or a file that holds one');
  }
  const heads = [...content.matchAll(/\b(\d{1,15}):([0-9a-f]{64})\b/g)];
  const last = heads[heads.length - 1];
  if (!last) return usage(`--expect-head: no SEQ:HASH in ${value}`);
  return { seq: Number(last[1]), hash: last[2]! };
}

function usage(message: string): never {
  throw new UsageError(message);
}

/** The first line of standard input: passwords never go on the command line, where `ps` shows them. */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (!password) usage('no password on standard input');
  return password;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`yunying: ${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof YunyingError || error instanceof ConfigError) {
      console.error(`yunying: ${error.message}`);
      process.exit(error instanceof YunyingError && error.httpStatus === 404 ? 3 : 2);
    }
    pino().error({ err: error }, 'yunying: failed');
    process.exit(1);
  },
);
