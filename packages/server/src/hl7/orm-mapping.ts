/**
 * ORM^O01 (general order, v2.3–2.5.1, as IHE Radiology's Placer Order Management uses it)
 * to the platform's order model (orders/order-model.ts): what to create or cancel. Pure:
 * no database, no socket; every problem is an Hl7Rejection that the ACK reports.
 *
 *   PID-3   patient identifiers (CX): the one of type MR/PI (or the first) → Patient ID, its
 *           assigning authority (CX-4) → Issuer of Patient ID; type NNCHN (居民身份证) → national id
 *   PID-5   names (XPN, repeating): alphabetic and ideographic (XPN-8 A/I, or told apart by
 *           their characters) → PN 'Zhang^San=张^三'
 *   PID-7/8 birth date, sex
 *   PV1-8   referring doctor (after OBR-16 and ORC-12)
 *   ORC-1   NW new, CA/DC cancel (DC: discontinue, the same request here)
 *   ORC-2   placer order number (OBR-2 when ORC-2 is empty)
 *   OBR-18, OBR-3, ORC-3   accession number, in that order (IHE puts it in OBR-18)
 *   OBR-4   requested procedure (code^text^scheme)
 *   OBR-24  modality (diagnostic service section)
 *   TQ1-7, OBR-27.4, OBR-36   scheduled start; TQ1-9 / OBR-27.6 / OBR-5 priority
 *   OBR-31, OBR-13   reason / relevant clinical information
 */
import type { CreateOrderInput } from '../orders/order-model.ts';
import type { Priority } from '../reading/sla.ts';
import { Hl7Rejection } from './ack.ts';
import type { Hl7Message, Hl7Segment } from './hl7-message.ts';

export type OrmAction = { kind: 'create'; input: CreateOrderInput; placerOrderNumber: string | undefined } | { kind: 'cancel'; placerOrderNumber: string; reason: string | undefined };

/** MSH-9: the message type and event, e.g. ['ORM', 'O01']. */
export function messageTypeOf(message: Hl7Message): { type: string; event: string } {
  return { type: message.get('MSH-9.1').toUpperCase(), event: message.get('MSH-9.2').toUpperCase() };
}

/** MSH-4.1: the HIS's facility, which administrators map to one institution. */
export function sendingFacilityOf(message: Hl7Message): string {
  const facility = message.get('MSH-4.1') || message.get('MSH-4.2');
  if (!facility) throw new Hl7Rejection('AR', '101', 'MSH-4 (sending facility) is required: it names the institution the orders are for', { segment: 'MSH', field: 4 });
  return facility;
}

/** The orders of an ORM^O01: one action per ORC (with the OBR that follows it). */
export function ordersOf(message: Hl7Message): OrmAction[] {
  const { type, event } = messageTypeOf(message);
  if (type !== 'ORM') throw new Hl7Rejection('AR', '200', `message type ${type || '(empty)'} is not supported: this interface takes ORM^O01 orders`, { segment: 'MSH', field: 9 });
  if (event !== 'O01') throw new Hl7Rejection('AR', '201', `event ${event || '(empty)'} is not supported: this interface takes ORM^O01`, { segment: 'MSH', field: 9 });
  const pid = message.segment('PID');
  if (!pid) throw new Hl7Rejection('AR', '100', 'the PID segment is missing (ORM^O01 needs the patient)', { segment: 'PID' });
  const groups = orderGroups(message);
  if (groups.length === 0) throw new Hl7Rejection('AR', '100', 'the ORC segment is missing (ORM^O01 needs at least one order)', { segment: 'ORC' });
  return groups.map((group) => actionOf(message, pid, message.segment('PV1'), group));
}

interface OrderGroup {
  orc: Hl7Segment;
  obr?: Hl7Segment;
  tq1?: Hl7Segment;
}

/** ORC, then its OBR (and TQ1) until the next ORC. */
function orderGroups(message: Hl7Message): OrderGroup[] {
  const groups: OrderGroup[] = [];
  for (const segment of message.segments) {
    if (segment.name === 'ORC') groups.push({ orc: segment });
    const current = groups.at(-1);
    if (!current) continue;
    if (segment.name === 'OBR' && !current.obr) current.obr = segment;
    if (segment.name === 'TQ1' && !current.tq1) current.tq1 = segment;
  }
  return groups;
}

function actionOf(message: Hl7Message, pid: Hl7Segment, pv1: Hl7Segment | undefined, group: OrderGroup): OrmAction {
  const { orc, obr, tq1 } = group;
  const control = message.value(orc, 1).toUpperCase();
  const placer = message.value(orc, 2) || message.value(obr, 2) || undefined;
  if (control === 'CA' || control === 'DC') {
    if (!placer) throw new Hl7Rejection('AR', '101', `ORC-2 (placer order number) is required to cancel (ORC-1 ${control})`, { segment: 'ORC', field: 2 });
    return { kind: 'cancel', placerOrderNumber: placer, reason: message.value(orc, 16, 2) || message.value(orc, 16) || undefined };
  }
  if (control !== 'NW') throw new Hl7Rejection('AR', '103', `ORC-1 order control ${control || '(empty)'} is not supported (NW new, CA or DC cancel)`, { segment: 'ORC', field: 1 });
  if (!obr) throw new Hl7Rejection('AR', '100', 'the OBR segment is missing after ORC (a new order needs its procedure)', { segment: 'OBR' });
  const procedure = message.repetitions(obr, 4)[0] ?? [];
  const code = procedure[0]?.[0] ?? '';
  const text = procedure[1]?.[0] ?? '';
  if (!code && !text) throw new Hl7Rejection('AR', '101', 'OBR-4 (universal service identifier: the procedure) is required', { segment: 'OBR', field: 4 });
  const modality = message.value(obr, 24).toUpperCase();
  if (!modality) throw new Hl7Rejection('AR', '101', 'OBR-24 (diagnostic service section: the modality, e.g. CT) is required', { segment: 'OBR', field: 24 });
  if (!/^[A-Z0-9]{1,16}$/.test(modality)) throw new Hl7Rejection('AR', '102', 'OBR-24 must be a DICOM modality code such as CT, DX, MR or US', { segment: 'OBR', field: 24 });
  const accession = message.value(obr, 18) || message.value(obr, 3) || message.value(orc, 3) || undefined;
  if (accession !== undefined && accession.length > 16) throw new Hl7Rejection('AR', '102', 'the accession number (OBR-18) is longer than 16 characters (DICOM SH)', { segment: 'OBR', field: 18 });
  const start = message.value(tq1, 7) || message.value(obr, 27, 4) || message.value(obr, 36);
  const referring = personName(message.repetitions(obr, 16)[0]) ?? personName(message.repetitions(orc, 12)[0]) ?? personName(message.repetitions(pv1, 8)[0]);
  const input: CreateOrderInput = {
    patient: patientOf(message, pid),
    requestedProcedure: {
      description: text || code,
      modality,
      ...(code ? { code: { value: code, ...(procedure[2]?.[0] ? { scheme: procedure[2][0] } : {}), ...(text ? { meaning: text } : {}) } } : {}),
    },
    ...(accession ? { accessionNumber: accession } : {}),
    ...(placer ? { placerOrderNumber: placer } : {}),
    ...(referring ? { referringPhysician: referring } : {}),
    priority: priorityOf(message.value(tq1, 9) || message.value(obr, 27, 6) || message.value(obr, 5)),
    ...(reasonOf(message, obr) ? { reason: reasonOf(message, obr) } : {}),
    steps: [{ modality, ...(start ? { startDateTime: isoOf(start, 'TQ1-7 / OBR-27.4 (scheduled start)', obr ? 'OBR' : 'TQ1') } : {}) }],
    source: 'hl7',
  };
  return { kind: 'create', input, placerOrderNumber: placer };
}

function patientOf(message: Hl7Message, pid: Hl7Segment): CreateOrderInput['patient'] {
  const identifiers = message.repetitions(pid, 3).map((cx) => ({ id: cx[0]?.[0] ?? '', authority: cx[3]?.[0] ?? '', type: (cx[4]?.[0] ?? '').toUpperCase() })).filter((cx) => cx.id !== '');
  const national = identifiers.find((cx) => cx.type === 'NNCHN' || cx.type === 'NI');
  const main = identifiers.find((cx) => cx.type === 'MR' || cx.type === 'PI') ?? identifiers.find((cx) => cx !== national) ?? identifiers[0];
  if (!main) throw new Hl7Rejection('AR', '101', 'PID-3 (patient identifier list) is required', { segment: 'PID', field: 3 });
  if (main.id.length > 64) throw new Hl7Rejection('AR', '102', 'PID-3 patient identifier is longer than 64 characters (DICOM LO)', { segment: 'PID', field: 3 });
  const name = nameOf(message.repetitions(pid, 5));
  if (!name) throw new Hl7Rejection('AR', '101', 'PID-5 (patient name) is required', { segment: 'PID', field: 5 });
  const birth = message.value(pid, 7);
  if (birth && !/^\d{8}/.test(birth)) throw new Hl7Rejection('AR', '102', 'PID-7 (date of birth) must start YYYYMMDD', { segment: 'PID', field: 7 });
  const sex = sexOf(message.value(pid, 8));
  return {
    patientId: main.id,
    ...(main.authority ? { issuerOfPatientId: main.authority } : {}),
    name,
    ...(sex ? { sex } : {}),
    ...(birth ? { birthDate: birth.slice(0, 8) } : {}),
    ...(national && national !== main ? { nationalId: national.id } : {}),
  };
}

/**
 * PID-5 as DICOM PN: an alphabetic and an ideographic group, told apart by XPN-8 (name
 * representation code A/I) or by their characters; '张三' with no given name stays as it is.
 */
function nameOf(names: string[][][]): string | undefined {
  let alphabetic: string | undefined;
  let ideographic: string | undefined;
  for (const xpn of names) {
    const family = xpn[0]?.[0] ?? '';
    const given = xpn[1]?.[0] ?? '';
    const middle = xpn[2]?.[0] ?? '';
    if (!family && !given) continue;
    const pn = [family, given, middle].join('^').replace(/\^+$/, '');
    const representation = (xpn[7]?.[0] ?? '').toUpperCase();
    // eslint-disable-next-line no-control-regex
    const isAscii = /^[\x00-\x7f]*$/.test(pn);
    if ((representation === 'I' || (!representation && !isAscii)) && !ideographic) ideographic = pn;
    else if ((representation === 'A' || (!representation && isAscii)) && !alphabetic) alphabetic = pn;
  }
  if (ideographic && alphabetic) return `${alphabetic}=${ideographic}`;
  return ideographic ?? alphabetic;
}

/** XCN (id^family^given…) as PN, or undefined. */
function personName(xcn: string[][] | undefined): string | undefined {
  const family = xcn?.[1]?.[0] ?? '';
  const given = xcn?.[2]?.[0] ?? '';
  if (!family && !given) return undefined;
  return given ? `${family}^${given}` : family;
}

function sexOf(value: string): 'M' | 'F' | 'O' | undefined {
  const sex = value.toUpperCase();
  if (sex === 'M' || sex === 'F') return sex;
  if (sex === 'O' || sex === 'A' || sex === 'N') return 'O';
  return undefined;
}

/** HL7 priority (S stat, A asap, R routine; TQ1-9 is coded the same) → the reading priority. */
function priorityOf(value: string): Priority {
  const code = value.toUpperCase();
  if (code === 'S') return 'emergency';
  if (code === 'A' || code === 'P') return 'urgent';
  return 'routine';
}

function reasonOf(message: Hl7Message, obr: Hl7Segment | undefined): string | undefined {
  const reason = message.value(obr, 31, 2) || message.value(obr, 31) || message.value(obr, 13);
  return reason ? reason.slice(0, 1024) : undefined;
}

/** HL7 DTM YYYYMMDD[HH[MM[SS]]][+ZZZZ] → ISO 8601 (no offset: the platform's zone, as the order model reads it). */
function isoOf(value: string, what: string, segment: string): string {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})?(\d{2})?(?:\.\d+)?)?([+-]\d{4})?$/.exec(value);
  if (!match) throw new Hl7Rejection('AR', '102', `${what} must be an HL7 date-time YYYYMMDDHHMM[SS][+ZZZZ]`, { segment });
  const [, year, month, day, hour = '00', minute = '00', second = '00', zone] = match;
  const offset = zone ? `${zone.slice(0, 3)}:${zone.slice(3)}` : '';
  return `${year}-${month}-${day}T${hour}:${minute}:${second}${offset}`;
}
