;; The screen's filter bank (screen.ts): 16 Goertzel bins per sub-block, and the 16 block
;; powers of the last four sub-blocks, four bins per SIMD lane group (f32x4).
;;
;; decode() turns a frame of μ-law bytes into those samples and their sub-block energies, so the
;; one per-sample loop left in JavaScript (detector.ts) runs only for frames that do not start
;; on a sub-block.
;;
;; Why WebAssembly: the bank runs on nearly every sample, and a Goertzel recurrence is a
;; dependency chain (each step needs the previous one). Scalar JavaScript interleaves only a few
;; chains before registers run out (~0.7 ns per bin and sample); four f32x4 chains run all 16
;; bins in about the time of one. Single precision is plenty for a loose screen over 20-80
;; samples; the exact stage (analyzer.ts) stays in double precision.
;;
;; Built into bank-wasm.ts by scripts/build-wasm.ts (npm run build:wasm); a unit test checks the
;; committed bytes against this file and the results against the TypeScript version in bank.ts
;; bit for bit.
;;
;; Memory (bytes): constants written by bank.ts, then the shared input, then one history region
;; per screen (bank.ts hands them out; the memory grows when they run out).
;;   0     2·cos(ω) of the 16 bins            (f32 ×16)
;;   64    cos(ω)                             (f32 ×16)
;;   128   sin(ω)                             (f32 ×16)
;;   192   cos(ω·hop), 256 sin(ω·hop): the phase step between sub-blocks (f32 ×16 each)
;;   320   block powers, written by power()   (f32 ×16)
;;   384   sub-block energies, written by decode() (f64 ×8)
;;   512   the samples                        (f32, up to 1024)
;;   4608  μ-law bytes for decode()          (u8, up to 1024)
;;   5632  the μ-law decoding table          (f32 ×256)
;;   8192  history regions: a slot is re (f32 ×16) then im (f32 ×16), 128 bytes
(module
  (memory (export "memory") 1)

  ;; decode(n, sub): the n μ-law bytes at byte 4608 as samples at byte 512, and the energy (sum
  ;; of squares, f64) of each whole run of `sub` samples at byte 384
  (func (export "decode") (param $n i32) (param $sub i32)
    (local $i i32) (local $k i32) (local $e f64) (local $v f32) (local $out i32)
    (local.set $out (i32.const 384))
    (block $done
      (loop $sample
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v (f32.load offset=5632 (i32.shl (i32.load8_u offset=4608 (local.get $i)) (i32.const 2))))
        (f32.store offset=512 (i32.shl (local.get $i) (i32.const 2)) (local.get $v))
        (local.set $e (f64.add (local.get $e) (f64.mul (f64.promote_f32 (local.get $v)) (f64.promote_f32 (local.get $v)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (if (i32.eq (local.get $k) (local.get $sub))
          (then
            (f64.store (local.get $out) (local.get $e))
            (local.set $out (i32.add (local.get $out) (i32.const 8)))
            (local.set $e (f64.const 0))
            (local.set $k (i32.const 0))))
        (br $sample))))

  ;; transform(slot, at, n): the bins of the n samples from sample `at` of byte 512 into the slot
  ;; at byte `slot`: y = s[n-1] - e^{-jω}·s[n-2], the DFT referenced to the last sample, where
  ;; s[i] = (x[i] - s[i-2]) + 2cos(ω)·s[i-1] from zero state
  (func (export "transform") (param $slot i32) (param $at i32) (param $n i32)
    (local $p i32) (local $end i32) (local $x v128) (local $t v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) ;; s[i-1]
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) ;; s[i-2]
    (local.set $c0 (v128.load offset=0 (i32.const 0)))
    (local.set $c1 (v128.load offset=16 (i32.const 0)))
    (local.set $c2 (v128.load offset=32 (i32.const 0)))
    (local.set $c3 (v128.load offset=48 (i32.const 0)))
    (local.set $p (i32.add (i32.const 512) (i32.shl (local.get $at) (i32.const 2))))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
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
    ;; re = s1 - cos(ω)·s2, im = sin(ω)·s2
    (v128.store offset=0 (local.get $slot) (f32x4.sub (local.get $a0) (f32x4.mul (v128.load offset=64 (i32.const 0)) (local.get $b0))))
    (v128.store offset=16 (local.get $slot) (f32x4.sub (local.get $a1) (f32x4.mul (v128.load offset=80 (i32.const 0)) (local.get $b1))))
    (v128.store offset=32 (local.get $slot) (f32x4.sub (local.get $a2) (f32x4.mul (v128.load offset=96 (i32.const 0)) (local.get $b2))))
    (v128.store offset=48 (local.get $slot) (f32x4.sub (local.get $a3) (f32x4.mul (v128.load offset=112 (i32.const 0)) (local.get $b3))))
    (v128.store offset=64 (local.get $slot) (f32x4.mul (v128.load offset=128 (i32.const 0)) (local.get $b0)))
    (v128.store offset=80 (local.get $slot) (f32x4.mul (v128.load offset=144 (i32.const 0)) (local.get $b1)))
    (v128.store offset=96 (local.get $slot) (f32x4.mul (v128.load offset=160 (i32.const 0)) (local.get $b2)))
    (v128.store offset=112 (local.get $slot) (f32x4.mul (v128.load offset=176 (i32.const 0)) (local.get $b3))))

  ;; zero(slot): a sub-block below the energy gate has no bins
  (func (export "zero") (param $slot i32)
    (v128.store offset=0 (local.get $slot) (v128.const i32x4 0 0 0 0))
    (v128.store offset=16 (local.get $slot) (v128.const i32x4 0 0 0 0))
    (v128.store offset=32 (local.get $slot) (v128.const i32x4 0 0 0 0))
    (v128.store offset=48 (local.get $slot) (v128.const i32x4 0 0 0 0))
    (v128.store offset=64 (local.get $slot) (v128.const i32x4 0 0 0 0))
    (v128.store offset=80 (local.get $slot) (v128.const i32x4 0 0 0 0))
    (v128.store offset=96 (local.get $slot) (v128.const i32x4 0 0 0 0))
    (v128.store offset=112 (local.get $slot) (v128.const i32x4 0 0 0 0)))

  ;; group(g, s0, s1, s2, s3): |y3·W³ + y2·W² + y1·W + y0|² for the four bins of group g
  ;; (byte offset 16·g), slots from the newest (s0) to the oldest (s3), W = e^{jω·hop}
  (func $group (param $g i32) (param $s0 i32) (param $s1 i32) (param $s2 i32) (param $s3 i32)
    (local $wr v128) (local $wi v128) (local $r v128) (local $i v128) (local $t v128)
    (local.set $wr (v128.load offset=192 (local.get $g)))
    (local.set $wi (v128.load offset=256 (local.get $g)))
    (local.set $r (v128.load offset=0 (i32.add (local.get $s3) (local.get $g))))
    (local.set $i (v128.load offset=64 (i32.add (local.get $s3) (local.get $g))))
    ;; (r, i) ← (r, i)·W + y, for y of s2, s1, s0
    (local.set $t (f32x4.add (f32x4.sub (f32x4.mul (local.get $r) (local.get $wr)) (f32x4.mul (local.get $i) (local.get $wi)))
                             (v128.load offset=0 (i32.add (local.get $s2) (local.get $g)))))
    (local.set $i (f32x4.add (f32x4.add (f32x4.mul (local.get $r) (local.get $wi)) (f32x4.mul (local.get $i) (local.get $wr)))
                             (v128.load offset=64 (i32.add (local.get $s2) (local.get $g)))))
    (local.set $r (local.get $t))
    (local.set $t (f32x4.add (f32x4.sub (f32x4.mul (local.get $r) (local.get $wr)) (f32x4.mul (local.get $i) (local.get $wi)))
                             (v128.load offset=0 (i32.add (local.get $s1) (local.get $g)))))
    (local.set $i (f32x4.add (f32x4.add (f32x4.mul (local.get $r) (local.get $wi)) (f32x4.mul (local.get $i) (local.get $wr)))
                             (v128.load offset=64 (i32.add (local.get $s1) (local.get $g)))))
    (local.set $r (local.get $t))
    (local.set $t (f32x4.add (f32x4.sub (f32x4.mul (local.get $r) (local.get $wr)) (f32x4.mul (local.get $i) (local.get $wi)))
                             (v128.load offset=0 (i32.add (local.get $s0) (local.get $g)))))
    (local.set $i (f32x4.add (f32x4.add (f32x4.mul (local.get $r) (local.get $wi)) (f32x4.mul (local.get $i) (local.get $wr)))
                             (v128.load offset=64 (i32.add (local.get $s0) (local.get $g)))))
    (v128.store offset=320 (local.get $g)
      (f32x4.add (f32x4.mul (local.get $t) (local.get $t)) (f32x4.mul (local.get $i) (local.get $i)))))

  ;; power(s0, s1, s2, s3): the block power of all 16 bins (unnormalised) into byte 320
  (func (export "power") (param $s0 i32) (param $s1 i32) (param $s2 i32) (param $s3 i32)
    (call $group (i32.const 0) (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3))
    (call $group (i32.const 16) (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3))
    (call $group (i32.const 32) (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3))
    (call $group (i32.const 48) (local.get $s0) (local.get $s1) (local.get $s2) (local.get $s3)))
)
