/**
 * What the demo writes and hears: μ-law as a WAV file (format 7, no conversion), and, where the
 * Debian tools are installed, a sox spectrogram and what multimon-ng (an independent DTMF
 * decoder) hears. The demo runs without them and says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function mulawWav(mulaw: Uint8Array): Buffer {
  const header = Buffer.alloc(46);
  header.write('RIFF', 0);
  header.writeUInt32LE(38 + mulaw.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(18, 16);
  header.writeUInt16LE(7, 20); // WAVE_FORMAT_MULAW
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28); // bytes per second
  header.writeUInt16LE(1, 32); // block align
  header.writeUInt16LE(8, 34); // bits per sample
  header.writeUInt16LE(0, 36); // no extra format bytes
  header.write('data', 38);
  header.writeUInt32LE(mulaw.length, 42);
  return Buffer.concat([header, Buffer.from(mulaw)]);
}

export const hasTool = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** the DTMF keys multimon-ng decodes from 8 kHz μ-law, or null when sox/multimon-ng are missing */
export function multimonKeys(mulaw: Uint8Array): string | null {
  if (!hasTool('sox') || !hasTool('multimon-ng')) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tw-demo-'));
  try {
    const ul = path.join(dir, 'a.ul');
    const raw = path.join(dir, 'a.raw');
    writeFileSync(ul, mulaw);
    execFileSync('sox', ['-t', 'ul', '-r', '8000', '-c', '1', ul, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-r', '22050', raw]);
    const out = execFileSync('multimon-ng', ['-q', '-t', 'raw', '-a', 'DTMF', raw], { encoding: 'utf8' });
    return [...out.matchAll(/DTMF:\s*([0-9*#A-D])/g)].map((m) => m[1]).join('');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** a spectrogram PNG of a WAV file (sox), or false when sox is missing */
export function spectrogram(wavFile: string, pngFile: string, title: string): boolean {
  if (!hasTool('sox')) return false;
  execFileSync('sox', [wavFile, '-n', 'spectrogram', '-t', title, '-x', '1200', '-y', '257', '-o', pngFile]);
  return true;
}
