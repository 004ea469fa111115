import { coded, TonewallError } from './base';

export const PaymentErrors = {
  open: coded('TW_ERR_PAYMENT_OPEN', 'a payment session is already open on this call', 409),
  notFound: coded('TW_ERR_PAYMENT_NOT_FOUND', 'payment session not found', 404),
  ended: coded('TW_ERR_PAYMENT_ENDED', 'the payment session has ended', 409),
  unknownField: coded('TW_ERR_PAYMENT_UNKNOWN_FIELD', 'the payment session has no such field', 400),
  incomplete: coded('TW_ERR_PAYMENT_INCOMPLETE', 'fields still to gather', 409),
} as const;

/**
 * Why the payment sessions refused an agent's request, as one of their fixed reasons; the agents'
 * API turns each reason into its own coded error (agents/actions.ts). `R` is the reasons' union,
 * kept by captures/payments.ts, where they come from.
 */
export class PaymentRefused<R extends string = string> extends TonewallError {
  static readonly code = 'TW_ERR_PAYMENT_REFUSED';

  constructor(
    readonly reason: R,
    /** field names still to gather: the flow's or the agent's words, never a value */
    readonly required?: string[],
  ) {
    super(PaymentRefused.code, `payment refused: ${reason}`, 409);
  }
}
