import { codedWith, TonewallError } from './base';

export const ProcessorErrors = {
  backoffInvalid: codedWith('TW_ERR_PROCESSORS_BACKOFF_INVALID', 500, (detail: string) => `processor backoff: ${detail}`),
} as const;

/** The processors file does not validate: the file, the path in it and the reason, never a secret's text. */
export class ProcessorsConfigError extends TonewallError {
  static readonly code = 'TW_ERR_PROCESSORS_INVALID';

  constructor(
    readonly file: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(ProcessorsConfigError.code, `${file}: ${path ? path + ': ' : ''}${reason}`, 500);
    this.name = 'ProcessorsConfigError';
  }
}
