/**
 * The pure part of a capture: which key presses make up the value and when it is complete.
 * No clock, no I/O: the executor feeds it keys and decides on timeouts.
 */
export type KeyOutcome = 'digit' | 'full' | 'finish' | 'ignored';

export class DigitCollector {
  private value = '';

  constructor(private readonly maxLength: number) {}

  /** '#' finishes; a digit is taken until `maxLength` is reached ('full' on the last one) */
  push(key: string): KeyOutcome {
    if (key === '#') return 'finish';
    if (!/^[0-9]$/.test(key) || this.value.length >= this.maxLength) return 'ignored';
    this.value += key;
    return this.value.length >= this.maxLength ? 'full' : 'digit';
  }

  get entered(): number {
    return this.value.length;
  }

  /** the plain value: only for validation and the vault, never a log, event or record */
  get digits(): string {
    return this.value;
  }

  wipe(): void {
    this.value = '';
  }
}
