import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Caller } from '../access/caller.ts';
import { YunyingError } from '../errors.ts';
import type { OrderService } from '../orders/order-model.ts';
import { buildAck, Hl7Rejection, type AckCode } from './ack.ts';
import { decodeHl7Bytes, Hl7ParseError, parseHl7, type Hl7Message } from './hl7-message.ts';
import type { Hl7Store } from './hl7-store.ts';
import { messageTypeOf, ordersOf, sendingFacilityOf } from './orm-mapping.ts';

export interface Hl7InboundDeps {
  orders: OrderService;
  /** the process-wide store (reads, and the inbound log) */
  store: Hl7Store;
  /** our MSH-3 when the sender names no receiving application */
  application: string;
  timeZone: string;
  logger: Logger;
}

/**
 * What the MLLP listener does with each framed message: decode (MSH-18), parse, find the
 * sending facility's institution, create or cancel its orders through the order service, and
 * answer with an ACK. Every outcome is an ACK (AA, AE or AR with the reason in MSA-3 and
 * ERR): nothing a sender writes makes this throw. The log records outcomes and codes, never
 * the message (it carries the patient's name and identifiers).
 */
export class Hl7Inbound {
  private readonly deps: Hl7InboundDeps;

  constructor(deps: Hl7InboundDeps) {
    this.deps = deps;
  }

  /** The ACK for one message's bytes. */
  async handle(bytes: Buffer, remoteAddress?: string): Promise<string> {
    let message: Hl7Message | undefined;
    let facility: string | null = null;
    let institutionId: string | null = null;
    const orderIds: string[] = [];
    let outcome: { code: AckCode; text: string; error?: { code: string; location?: { segment: string; field?: number } } };
    try {
      message = parseHl7(decodeHl7Bytes(bytes).text);
      facility = sendingFacilityOf(message);
      const resent = message.get('MSH-10') ? await this.deps.store.acceptedInbound(facility, message.get('MSH-10')) : undefined;
      if (resent) {
        // A resend of a message we accepted (its ACK was lost): the same answer, nothing done twice.
        outcome = { code: 'AA', text: `already accepted (${resent.received_at})` };
        orderIds.push(...(JSON.parse(resent.order_ids) as string[]));
        institutionId = resent.institution_id;
      } else {
        institutionId = await this.institutionOf(facility);
        outcome = await this.applyOrders(message, facility, institutionId, orderIds);
      }
    } catch (error) {
      outcome = this.rejectionOf(error);
    }
    const ack = buildAck({ code: outcome.code, text: outcome.text, original: message, error: outcome.error, application: this.deps.application, timeZone: this.deps.timeZone });
    await this.logInbound(message, facility, institutionId, outcome, orderIds, remoteAddress);
    return ack;
  }

  /** A bad frame (not MLLP, too large): the ACK the listener sends before it closes the connection. */
  frameRejection(text: string): string {
    this.deps.logger.warn({ outcome: 'AR' }, `hl7: ${text}`);
    return buildAck({ code: 'AR', text, error: { code: '100' }, application: this.deps.application, timeZone: this.deps.timeZone });
  }

  private async institutionOf(facility: string): Promise<string> {
    const mapping = await this.deps.store.facility(facility);
    if (!mapping) throw new Hl7Rejection('AR', '204', `sending facility ${facility} (MSH-4) is not mapped to an institution; an administrator maps it with PUT /api/v1/hl7/facilities/{facility}`, { segment: 'MSH', field: 4 });
    return mapping.institution_id;
  }

  private async applyOrders(message: Hl7Message, facility: string, institutionId: string, orderIds: string[]): Promise<{ code: AckCode; text: string }> {
    const actions = ordersOf(message);
    // The HIS acts for its own institution only: the facility's mapping decides, never a field of the message.
    const caller: Caller = { kind: 'system', name: `hl7:${facility}`, institutionId, role: 'administrator', visibleInstitutionIds: [institutionId], via: 'system' };
    const done: string[] = [];
    for (const action of actions) {
      if (action.kind === 'create') {
        const order = await this.deps.orders.createOrder(caller, { ...action.input, institutionId });
        orderIds.push(order.id);
        done.push(`order ${order.accessionNumber} created`);
      } else {
        const order = await this.deps.orders.findByPlacerOrderNumber(caller, institutionId, action.placerOrderNumber);
        if (!order) throw new Hl7Rejection('AR', '204', `no order with placer order number ${action.placerOrderNumber} (ORC-2) at this facility's institution`, { segment: 'ORC', field: 2 });
        await this.deps.orders.cancelOrder(caller, order.id, action.reason);
        orderIds.push(order.id);
        done.push(`order ${order.accessionNumber} cancelled`);
      }
    }
    this.deps.logger.info({ outcome: 'AA', facility, messageType: messageTypeOf(message), orders: orderIds.length }, 'hl7: message accepted');
    return { code: 'AA', text: done.join('; ') };
  }

  private rejectionOf(error: unknown): { code: AckCode; text: string; error: { code: string; location?: { segment: string; field?: number } } } {
    if (error instanceof Hl7Rejection) return { code: error.ackCode, text: error.message, error: { code: error.errorCode, location: error.location } };
    if (error instanceof Hl7ParseError) return { code: 'AR', text: `not a readable HL7 v2 message: ${error.message}`, error: { code: error.errorCode } };
    if (error instanceof YunyingError) {
      // The order service's answer, by its code (errors/catalog.ts); its message names fields, not patient data.
      if (error.code === 'ORDER_EXISTS') return { code: 'AR', text: `${error.code}: ${error.message}`, error: { code: '205' } };
      if (error.code === 'ORDER_NOT_CANCELLABLE') return { code: 'AR', text: `${error.code}: ${error.message}`, error: { code: '207' } };
      if (error.code === 'NOT_FOUND') return { code: 'AR', text: `${error.code}: ${error.message}`, error: { code: '204' } };
      if (error.httpStatus >= 400 && error.httpStatus < 500) return { code: 'AR', text: `${error.code}: ${error.message}`, error: { code: '102' } };
    }
    // Ours, not the sender's: AE, so the HIS may send it again later. The reason stays in our log.
    this.deps.logger.error({ err: error }, 'hl7: message could not be processed');
    return { code: 'AE', text: 'application internal error; the message was not processed, send it again later', error: { code: '207' } };
  }

  private async logInbound(message: Hl7Message | undefined, facility: string | null, institutionId: string | null, outcome: { code: AckCode; text: string }, orderIds: string[], remoteAddress?: string): Promise<void> {
    const type = message ? messageTypeOf(message) : undefined;
    if (outcome.code !== 'AA') this.deps.logger.warn({ outcome: outcome.code, facility, messageType: type }, `hl7: ${outcome.text}`);
    try {
      await this.deps.store.recordInbound({
        id: randomUUID(),
        facility,
        institution_id: institutionId,
        message_control_id: message?.get('MSH-10').slice(0, 199) || null,
        message_type: type ? `${type.type}^${type.event}` : null,
        ack_code: outcome.code,
        ack_text: outcome.text.slice(0, 1000),
        order_ids: JSON.stringify(orderIds),
        remote_address: remoteAddress ?? null,
        received_at: new Date().toISOString(),
      });
    } catch (error) {
      this.deps.logger.error({ err: error }, 'hl7: the inbound log could not be written');
    }
  }
}
