import type { PlayStep, SayStep } from '../schema';
import type { Verb } from '../verbs';

/** a `say` step; its language and voice, when it has them, over the flow's */
export const sayVerb = (step: Pick<SayStep, 'say' | 'language' | 'voice'>): Verb => ({
  verb: 'say',
  text: step.say,
  ...(step.language ? { language: step.language } : {}),
  ...(step.voice ? { voice: step.voice } : {}),
});

export const playVerb = (url: PlayStep['play']): Verb => ({ verb: 'play', url });
