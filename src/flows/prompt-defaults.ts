/**
 * What the caller hears when a flow gives no message of its own for an error, or no prompt for
 * the second entry of a matching pair: by the language the prompt is said in (its first part,
 * `es` of `es-MX`), English for any language without a table here.
 */
import type { ErrorType } from './prompts';

interface Messages {
  errors: Record<ErrorType, string>;
  confirm: string;
  /**
   * the service's own words, said in the call's flow's language and voice: apologies
   * (twilio/twiml.ts, steps/handoff.ts), the end of a hold (media/registry.ts), a refused drop-in
   * capture (twilio/capture-route.ts)
   */
  system: Record<SystemMessage, string>;
}

export type SystemMessage = 'apology-connecting' | 'apology-goodbye' | 'handoff-refused' | 'no-agent' | 'capture-refused' | 'not-in-service';

const EN: Messages = {
  errors: {
    timeout: "Sorry, I didn't hear anything.",
    invalid: 'Sorry, that was not valid.',
    'invalid-card-number': 'Sorry, that card number is not valid.',
    'invalid-card-type': "Sorry, we can't take that type of card.",
    'invalid-date': 'Sorry, that date is not valid.',
    'invalid-security-code': 'Sorry, that security code is not valid.',
    'invalid-postal-code': 'Sorry, that postal code is not valid.',
    'input-matching-failed': 'Sorry, the two entries did not match.',
  },
  confirm: 'Please key it in again to confirm, then press hash.',
  system: {
    'apology-connecting': "We're sorry, we can't complete your request right now. Connecting you to an agent.",
    'apology-goodbye': "We're sorry, we can't complete your request right now. Please call again later. Goodbye.",
    'handoff-refused': "We're sorry, we can't connect you to an agent right now. Please call again later. Goodbye.",
    'no-agent': "We're sorry, no agent is available to take your call right now. Please call again later. Goodbye.",
    'capture-refused': "We're sorry, we can't complete your request right now. Goodbye.",
    'not-in-service': 'The number you have called is not in service. Goodbye.',
  },
};

const ES: Messages = {
  errors: {
    timeout: 'Lo siento, no he recibido nada.',
    invalid: 'Lo siento, no es válido.',
    'invalid-card-number': 'Lo siento, el número de tarjeta no es válido.',
    'invalid-card-type': 'Lo siento, no aceptamos ese tipo de tarjeta.',
    'invalid-date': 'Lo siento, la fecha no es válida.',
    'invalid-security-code': 'Lo siento, el código de seguridad no es válido.',
    'invalid-postal-code': 'Lo siento, el código postal no es válido.',
    'input-matching-failed': 'Lo siento, los dos números no coinciden.',
  },
  confirm: 'Por favor, márquelo otra vez para confirmar y pulse almohadilla.',
  system: {
    'apology-connecting': 'Lo sentimos, no podemos completar su solicitud en este momento. Le comunicamos con un agente.',
    'apology-goodbye': 'Lo sentimos, no podemos completar su solicitud en este momento. Por favor, llame más tarde. Adiós.',
    'handoff-refused': 'Lo sentimos, no podemos comunicarle con un agente en este momento. Por favor, llame más tarde. Adiós.',
    'no-agent': 'Lo sentimos, en este momento no hay ningún agente disponible para atender su llamada. Por favor, llame más tarde. Adiós.',
    'capture-refused': 'Lo sentimos, no podemos completar su solicitud en este momento. Adiós.',
    'not-in-service': 'El número que usted marcó no está en servicio. Adiós.',
  },
};

const BY_LANGUAGE: Record<string, Messages> = { en: EN, es: ES };

function messages(language?: string): Messages {
  return BY_LANGUAGE[(language ?? 'en').split('-')[0].toLowerCase()] ?? EN;
}

export const defaultErrorMessage = (error: ErrorType, language?: string): string => messages(language).errors[error];
export const defaultConfirm = (language?: string): string => messages(language).confirm;
export const systemMessage = (key: SystemMessage, language?: string): string => messages(language).system[key];
