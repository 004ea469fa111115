import type { Verb } from '../verbs';

export const sayVerb = (text: string): Verb => ({ verb: 'say', text });
