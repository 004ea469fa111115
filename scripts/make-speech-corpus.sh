#!/usr/bin/env bash
# Speech + music corpus for the DSP talk-off and speech-distortion tests (A14, D2).
#
#   scripts/make-speech-corpus.sh [OUT.ulaw] [MINUTES] [SEED]
#
# Defaults: test/fixtures/speech/corpus-2min.ulaw, 2 minutes, seed 1 (the committed fixture).
# The benchmark makes a 60-minute one under bench/results/ (gitignored) with the same script.
# Output: raw G.711 μ-law, 8 kHz, mono, plus OUT-without-.ulaw.segments.txt (what is where). About 85% speech from espeak-ng (several voices,
# languages, speeds and pitches, at levels from -6 to -24 dB below full scale, with pauses)
# and 15% music-like material synthesised by sox (plucked chords, organ-like chords with
# harmonics, arpeggios), band-limited like a phone line (200-3400 Hz).
# Needs: espeak-ng, sox.
set -euo pipefail

OUT=${1:-test/fixtures/speech/corpus-2min.ulaw}
MINUTES=${2:-2}
SEED=${3:-1}
command -v espeak-ng >/dev/null || { echo "espeak-ng is required (apt-get install espeak-ng)" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox is required (apt-get install sox)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TARGET_SAMPLES=$((MINUTES * 60 * 8000))

VOICES=(en-us en-gb "en-us+f3" "en-gb+m3" "en+f2" de fr es it nl pt "en-us+m7" "en+f4" pl sv "en-us+klatt" "en+croak" "en-gb+f5" "en-us+m2" hi ru "en+whisper")
TEXTS=(
  "Thank you for calling. Please hold while I transfer you to the next available agent."
  "Could you confirm the first line of your address and the postcode, please?"
  "Your balance is one hundred and twenty three pounds and forty seven pence."
  "I'm sorry, I didn't quite catch that. Could you say it again a little more slowly?"
  "The meeting has been moved to Thursday afternoon at half past three."
  "We have received your payment, and a confirmation will be sent by email within the hour."
  "Seven, eight, nine, zero, one, two, three, four, five, six."
  "Hello? Yes, hi, I'm calling about the order I placed last week, it still hasn't arrived."
  "Oh really? That's wonderful news! I'll tell everyone at home tonight."
  "Please enter your card number using the keypad, followed by the hash key."
  "Absolutely, no problem at all. Is there anything else I can help you with today?"
  "The quick brown fox jumps over the lazy dog while the sheep sleep soundly."
  "Guten Tag, ich möchte gerne meine Rechnung bezahlen, bitte."
  "Bonjour, je voudrais parler à quelqu'un du service client, s'il vous plaît."
  "Buenos días, necesito cambiar la dirección de entrega de mi pedido."
  "Mmm, let me see. Uh, I think it was, um, the twenty-second of March?"
  "Ssssh, listen. Whistle softly, see? Eeeee, ooooo, aaaah."
  "Peter Piper picked a peck of pickled peppers; how many pickled peppers did he pick?"
  "Your call is important to us. Please stay on the line."
  "One moment please, I'm just pulling up your account details on the system now."
  "Right, so the total comes to four hundred and ninety nine dollars, including tax and shipping."
  "Wow, that's amazing. Honestly I never thought I'd hear back so quickly, thanks so much!"
  "No, no, no. The other one, the blue one, next to the window. Yes, that one."
  "Nine nine nine, one one one, eight eight eight. Hello? Hello? Can you hear me?"
  "Ich rufe wegen meiner Kreditkarte an, die Zahlung wurde zweimal abgebucht."
  "Je ne comprends pas pourquoi le montant est différent de celui de la facture."
  "La tarjeta termina en cuatro cinco seis siete, y vence en diciembre."
  "Aaaaah, oooooh, eeeee, iiiii, uuuuu. La la la la la, do re mi fa so la ti do."
  "Yes. Yes. Okay. Uh-huh. Right. Sure. Mm-hmm. Fine. Great. Bye bye now."
)
NOTES=(C3 D3 E3 F3 G3 A3 B3 C4 D4 E4 F4 G4 A4 B4 C5 D5 E5)

RANDOM=$SEED # bash's generator is deterministic once seeded
rand() { # rand N → 0..N-1 (sets R; no subshell, so the sequence advances)
  R=$(( RANDOM % $1 ))
}

i=0
total=0
LIST="$WORK/list.txt"
: > "$LIST"
while [ "$total" -lt "$TARGET_SAMPLES" ]; do
  f="$WORK/seg$i.wav"
  rand 100
  if [ "$R" -lt 15 ]; then
    # music-like: a chord or an arpeggio, plucked or organ-like (sines with harmonics)
    rand ${#NOTES[@]}; a=${NOTES[$R]}; rand ${#NOTES[@]}; b=${NOTES[$R]}; rand ${#NOTES[@]}; c=${NOTES[$R]}
    rand 4; dur=$((2 + R))
    rand 3
    kind=music
    what="chord $a $b $c style $R"
    case $R in
      0) sox -n -r 8000 -c 1 "$f" synth "$dur" pluck "$a" pluck "$b" pluck "$c" remix - fade 0.05 "$dur" 0.3 ;;
      1) sox -n -r 8000 -c 1 "$f" synth "$dur" square "$a" sawtooth "$b" triangle "$c" remix - tremolo 5 30 fade 0.1 "$dur" 0.5 ;;
      *) sox -n -r 8000 -c 1 "$f" synth 0.4 pluck "$a" : synth 0.4 pluck "$b" : synth 0.4 pluck "$c" : synth 0.4 pluck "$b" : synth 0.8 pluck "$a" ;;
    esac
  else
    rand ${#VOICES[@]}; v=${VOICES[$R]}
    rand ${#TEXTS[@]}; t=${TEXTS[$R]}
    rand ${#TEXTS[@]}; t="$t ${TEXTS[$R]}"
    rand 110; s=$((110 + R))
    rand 80; p=$((10 + R))
    kind=speech
    what="voice $v speed $s pitch $p"
    espeak-ng -v "$v" -s "$s" -p "$p" -w "$WORK/raw$i.wav" "$t" 2>/dev/null
    sox "$WORK/raw$i.wav" -r 8000 -c 1 "$f"
  fi
  rand 19; g=$((6 + R))
  rand 8; pause=$R
  sox -V1 "$f" -r 8000 -c 1 -b 16 "$WORK/n$i.wav" sinc 200-3400 gain -n -"$g" pad 0 0."$pause"
  n=$(soxi -s "$WORK/n$i.wav")
  echo "$total $((total + n)) $kind $what" >> "$WORK/labels.txt"
  total=$((total + n))
  echo "$WORK/n$i.wav" >> "$LIST"
  i=$((i + 1))
done

mkdir -p "$(dirname "$OUT")"
# shellcheck disable=SC2046
sox $(cat "$LIST") -r 8000 -c 1 -e mu-law -t raw "$WORK/all.ulaw"
head -c "$TARGET_SAMPLES" "$WORK/all.ulaw" > "$OUT"
# segment map: first sample, end sample, speech|music, what made it
cp "$WORK/labels.txt" "${OUT%.ulaw}.segments.txt"
echo "wrote $OUT: $(( $(stat -c %s "$OUT") / 8000 )) s from $i segments"
