;; The screen's Goertzel bank (screen.ts): 16 bins over one sub-block, four bins per SIMD lane
;; group (f32x4), so one pass over the samples runs all 16 recurrences at once.
;;
;; Why WebAssembly: the bank is the one loop of the DSP that runs on nearly every sample, and a
;; Goertzel recurrence is a dependency chain (each step needs the previous one). Scalar JavaScript
;; can only interleave a few chains (registers run out), ~0.6-0.8 ns per bin and sample; four
;; f32x4 chains run the 16 bins in ~0.25 ns per sample and bin-group. Single precision is plenty
;; for a loose screen over 20 samples; the exact stage (analyzer.ts) stays in double precision.
;;
;; Built into bank-wasm.ts by scripts/build-wasm.ts (npm run build:wasm); a unit test checks the
;; committed bytes against this file and the results against the plain TypeScript version
;; (bank.ts, goertzelBankF32) bit for bit.
;;
;; Memory layout (bytes), shared by every caller (processing is synchronous):
;;   0    coefficients 2·cos(ω) of the 16 bins, f32
;;   64   s[n-1] of the 16 bins after bank(), f32
;;   128  s[n-2] of the 16 bins after bank(), f32
;;   256  the samples, f32 (up to 4096 of them)
(module
  (memory (export "memory") 1)

  ;; bank(n): the 16 Goertzel recurrences s[i] = (x[i] - s[i-2]) + c·s[i-1] over the n samples
  ;; at byte 256, from zero state; writes s[n-1] and s[n-2].
  (func (export "bank") (param $n i32)
    (local $p i32) (local $end i32) (local $x v128) (local $t v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) ;; s[i-1]
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) ;; s[i-2]
    (local.set $c0 (v128.load offset=0 (i32.const 0)))
    (local.set $c1 (v128.load offset=16 (i32.const 0)))
    (local.set $c2 (v128.load offset=32 (i32.const 0)))
    (local.set $c3 (v128.load offset=48 (i32.const 0)))
    (local.set $p (i32.const 256))
    (local.set $end (i32.add (i32.const 256) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $sample
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $x (v128.load32_splat (local.get $p)))
        (local.set $t (f32x4.add (f32x4.sub (local.get $x) (local.get $b0)) (f32x4.mul (local.get $c0) (local.get $a0))))
        (local.set $b0 (local.get $a0))
        (local.set $a0 (local.get $t))
        (local.set $t (f32x4.add (f32x4.sub (local.get $x) (local.get $b1)) (f32x4.mul (local.get $c1) (local.get $a1))))
        (local.set $b1 (local.get $a1))
        (local.set $a1 (local.get $t))
        (local.set $t (f32x4.add (f32x4.sub (local.get $x) (local.get $b2)) (f32x4.mul (local.get $c2) (local.get $a2))))
        (local.set $b2 (local.get $a2))
        (local.set $a2 (local.get $t))
        (local.set $t (f32x4.add (f32x4.sub (local.get $x) (local.get $b3)) (f32x4.mul (local.get $c3) (local.get $a3))))
        (local.set $b3 (local.get $a3))
        (local.set $a3 (local.get $t))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $sample)))
    (v128.store offset=64 (i32.const 0) (local.get $a0))
    (v128.store offset=80 (i32.const 0) (local.get $a1))
    (v128.store offset=96 (i32.const 0) (local.get $a2))
    (v128.store offset=112 (i32.const 0) (local.get $a3))
    (v128.store offset=128 (i32.const 0) (local.get $b0))
    (v128.store offset=144 (i32.const 0) (local.get $b1))
    (v128.store offset=160 (i32.const 0) (local.get $b2))
    (v128.store offset=176 (i32.const 0) (local.get $b3)))
)
