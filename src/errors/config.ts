import { TonewallError } from './base';

/** The environment does not parse: names the first bad variable, never its text. */
export class ConfigError extends TonewallError {
  static readonly code = 'TW_ERR_CONFIG_INVALID';

  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(ConfigError.code, message, 500);
    this.name = 'ConfigError';
  }
}
