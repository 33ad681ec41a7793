import { serviceKey } from '../modules/module.ts';
import type { OrderService } from './order-model.ts';

export type { CreateOrderInput, OrderFilter, OrderService, OrderView } from './order-model.ts';

/** The order service (order-model.ts), for the modules listed after orders (hl7/, fhir). */
export const ORDERS = serviceKey<OrderService>('orders');
