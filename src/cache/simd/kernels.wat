;; SIMD kernels for the cache math (element-wise passes over one sample's [T*D] float32 vectors).
;; Source of truth for kernels-wasm.ts: `npm run build:wasm` assembles this file with wabt and writes
;; the module there as base64; test/cache/simd.test.ts fails if the two drift apart.
;;
;; Conventions: every pointer is a byte offset into memory, 16-byte aligned; n4 is the number of
;; f32x4 lanes groups (element count rounded up to a multiple of 4; the caller zero-pads the tail).
(module
  (memory (export "memory") 1)

  ;; dst[i] += w * src[i]
  (func (export "axpy") (param $dst i32) (param $src i32) (param $w f32) (param $n4 i32)
    (local $wv v128) (local $end i32)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst)
          (f32x4.add (v128.load (local.get $dst)) (f32x4.mul (local.get $wv) (v128.load (local.get $src)))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next))))

  ;; dst[i] = wb·b[i] + w0·a0[i] + w1·a1[i] + w2·a2[i] + w3·a3[i] in one pass (unused terms: weight 0)
  (func (export "lincomb4")
    (param $dst i32) (param $b i32) (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32)
    (param $wb f32) (param $w0 f32) (param $w1 f32) (param $w2 f32) (param $w3 f32) (param $n4 i32)
    (local $vb v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $end i32)
    (local.set $vb (f32x4.splat (local.get $wb)))
    (local.set $v0 (f32x4.splat (local.get $w0)))
    (local.set $v1 (f32x4.splat (local.get $w1)))
    (local.set $v2 (f32x4.splat (local.get $w2)))
    (local.set $v3 (f32x4.splat (local.get $w3)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst)
          (f32x4.add
            (f32x4.add (f32x4.mul (local.get $vb) (v128.load (local.get $b))) (f32x4.mul (local.get $v0) (v128.load (local.get $a0))))
            (f32x4.add (f32x4.mul (local.get $v1) (v128.load (local.get $a1)))
              (f32x4.add (f32x4.mul (local.get $v2) (v128.load (local.get $a2))) (f32x4.mul (local.get $v3) (v128.load (local.get $a3)))))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $a0 (i32.add (local.get $a0) (i32.const 16)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 16)))
        (local.set $a2 (i32.add (local.get $a2) (i32.const 16)))
        (local.set $a3 (i32.add (local.get $a3) (i32.const 16)))
        (br $next))))

  ;; dst[i] = a[i] − b[i]; returns 1 if every difference is finite (checked on the way, x − x ≠ 0 for NaN/±Inf)
  (func (export "sub") (param $dst i32) (param $a i32) (param $b i32) (param $n4 i32) (result i32)
    (local $x v128) (local $bad v128) (local $end i32)
    (local.set $bad (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (local.set $x (f32x4.sub (v128.load (local.get $a)) (v128.load (local.get $b))))
        (v128.store (local.get $dst) (local.get $x))
        (local.set $bad (v128.or (local.get $bad) (f32x4.ne (f32x4.sub (local.get $x) (local.get $x)) (v128.const f32x4 0 0 0 0))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $next)))
    (i32.eqz (v128.any_true (local.get $bad))))

  ;; dst[i] = a[i] + b[i]; returns 1 if every sum is finite (x_in + stored residual of the reuse methods)
  (func (export "add") (param $dst i32) (param $a i32) (param $b i32) (param $n4 i32) (result i32)
    (local $x v128) (local $bad v128) (local $end i32)
    (local.set $bad (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (local.set $x (f32x4.add (v128.load (local.get $a)) (v128.load (local.get $b))))
        (v128.store (local.get $dst) (local.get $x))
        (local.set $bad (v128.or (local.get $bad) (f32x4.ne (f32x4.sub (local.get $x) (local.get $x)) (v128.const f32x4 0 0 0 0))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $next)))
    (i32.eqz (v128.any_true (local.get $bad))))

  ;; Σ_i (c0·a0[i] + c1·a1[i] + c2·a2[i] + c3·a3[i])², all in float64 (two f64x2 halves per 4 lanes):
  ;; TSI-style combinations cancel (R1·u − R2·(u + v) + R3·v), which float32 would not survive.
  (func (export "sumsq4")
    (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32)
    (param $c0 f64) (param $c1 f64) (param $c2 f64) (param $c3 f64) (param $n4 i32) (result f64)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $lo v128) (local $hi v128) (local $acc v128) (local $end i32)
    (local.set $v0 (f64x2.splat (local.get $c0)))
    (local.set $v1 (f64x2.splat (local.get $c1)))
    (local.set $v2 (f64x2.splat (local.get $c2)))
    (local.set $v3 (f64x2.splat (local.get $c3)))
    (local.set $acc (f64x2.splat (f64.const 0)))
    (local.set $end (i32.add (local.get $a0) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a0) (local.get $end)))
        (local.set $x0 (v128.load (local.get $a0)))
        (local.set $x1 (v128.load (local.get $a1)))
        (local.set $x2 (v128.load (local.get $a2)))
        (local.set $x3 (v128.load (local.get $a3)))
        ;; lanes 0, 1
        (local.set $lo
          (f64x2.add
            (f64x2.add
              (f64x2.mul (local.get $v0) (f64x2.promote_low_f32x4 (local.get $x0)))
              (f64x2.mul (local.get $v1) (f64x2.promote_low_f32x4 (local.get $x1))))
            (f64x2.add
              (f64x2.mul (local.get $v2) (f64x2.promote_low_f32x4 (local.get $x2)))
              (f64x2.mul (local.get $v3) (f64x2.promote_low_f32x4 (local.get $x3))))))
        ;; lanes 2, 3 (moved down by a shuffle)
        (local.set $hi
          (f64x2.add
            (f64x2.add
              (f64x2.mul (local.get $v0) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x0) (local.get $x0))))
              (f64x2.mul (local.get $v1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x1) (local.get $x1)))))
            (f64x2.add
              (f64x2.mul (local.get $v2) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x2) (local.get $x2))))
              (f64x2.mul (local.get $v3) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x3) (local.get $x3)))))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.add (f64x2.mul (local.get $lo) (local.get $lo)) (f64x2.mul (local.get $hi) (local.get $hi)))))
        (local.set $a0 (i32.add (local.get $a0) (i32.const 16)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 16)))
        (local.set $a2 (i32.add (local.get $a2) (i32.const 16)))
        (local.set $a3 (i32.add (local.get $a3) (i32.const 16)))
        (br $next)))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))

  ;; Σ_i (p·(a0[i] − a1[i]) + q·(a1[i] − a2[i]))² in float64, the differences first (exact in float64
  ;; for float32 inputs): the moves of a trajectory and the TSI's difference of their directions.
  (func (export "sumsqMoves")
    (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $p f64) (param $q f64) (param $n4 i32) (result f64)
    (local $vp v128) (local $vq v128) (local $x0 v128) (local $x1 v128) (local $x2 v128)
    (local $y v128) (local $acc v128) (local $end i32)
    (local.set $vp (f64x2.splat (local.get $p)))
    (local.set $vq (f64x2.splat (local.get $q)))
    (local.set $acc (f64x2.splat (f64.const 0)))
    (local.set $end (i32.add (local.get $a0) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a0) (local.get $end)))
        (local.set $x0 (v128.load (local.get $a0)))
        (local.set $x1 (v128.load (local.get $a1)))
        (local.set $x2 (v128.load (local.get $a2)))
        ;; lanes 0, 1
        (local.set $y (f64x2.add
          (f64x2.mul (local.get $vp) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x0)) (f64x2.promote_low_f32x4 (local.get $x1))))
          (f64x2.mul (local.get $vq) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x1)) (f64x2.promote_low_f32x4 (local.get $x2))))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.mul (local.get $y) (local.get $y))))
        ;; lanes 2, 3
        (local.set $x0 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x0) (local.get $x0)))
        (local.set $x1 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x1) (local.get $x1)))
        (local.set $x2 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x2) (local.get $x2)))
        (local.set $y (f64x2.add
          (f64x2.mul (local.get $vp) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x0)) (f64x2.promote_low_f32x4 (local.get $x1))))
          (f64x2.mul (local.get $vq) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x1)) (f64x2.promote_low_f32x4 (local.get $x2))))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.mul (local.get $y) (local.get $y))))
        (local.set $a0 (i32.add (local.get $a0) (i32.const 16)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 16)))
        (local.set $a2 (i32.add (local.get $a2) (i32.const 16)))
        (br $next)))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))

  ;; One float64 pass over a trajectory's three newest points, d1 = a0 − a1, d2 = a1 − a2 (differences of
  ;; the float32 inputs are exact in float64): writes ‖d1‖², ‖d2‖², ⟨d1, d2⟩, ‖a0 + a1‖² as four f64 at
  ;; $out (TSI and σ of TC-Padé from one read of the residuals instead of four).
  (func (export "trajectorySums")
    (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $n4 i32) (param $out i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $y0 v128) (local $y1 v128) (local $y2 v128)
    (local $d1 v128) (local $d2 v128) (local $s v128)
    (local $n1 v128) (local $n2 v128) (local $c v128) (local $m v128) (local $end i32) (local $half i32)
    (local.set $n1 (f64x2.splat (f64.const 0)))
    (local.set $n2 (f64x2.splat (f64.const 0)))
    (local.set $c (f64x2.splat (f64.const 0)))
    (local.set $m (f64x2.splat (f64.const 0)))
    (local.set $end (i32.add (local.get $a0) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a0) (local.get $end)))
        (local.set $x0 (v128.load (local.get $a0)))
        (local.set $x1 (v128.load (local.get $a1)))
        (local.set $x2 (v128.load (local.get $a2)))
        ;; lanes 0, 1 then lanes 2, 3 (swapped into the low half)
        (local.set $half (i32.const 0))
        (loop $lanes
          (local.set $y0 (f64x2.promote_low_f32x4 (local.get $x0)))
          (local.set $y1 (f64x2.promote_low_f32x4 (local.get $x1)))
          (local.set $y2 (f64x2.promote_low_f32x4 (local.get $x2)))
          (local.set $d1 (f64x2.sub (local.get $y0) (local.get $y1)))
          (local.set $d2 (f64x2.sub (local.get $y1) (local.get $y2)))
          (local.set $s (f64x2.add (local.get $y0) (local.get $y1)))
          (local.set $n1 (f64x2.add (local.get $n1) (f64x2.mul (local.get $d1) (local.get $d1))))
          (local.set $n2 (f64x2.add (local.get $n2) (f64x2.mul (local.get $d2) (local.get $d2))))
          (local.set $c (f64x2.add (local.get $c) (f64x2.mul (local.get $d1) (local.get $d2))))
          (local.set $m (f64x2.add (local.get $m) (f64x2.mul (local.get $s) (local.get $s))))
          (local.set $x0 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x0) (local.get $x0)))
          (local.set $x1 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x1) (local.get $x1)))
          (local.set $x2 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x2) (local.get $x2)))
          (local.set $half (i32.add (local.get $half) (i32.const 1)))
          (br_if $lanes (i32.lt_u (local.get $half) (i32.const 2))))
        (local.set $a0 (i32.add (local.get $a0) (i32.const 16)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 16)))
        (local.set $a2 (i32.add (local.get $a2) (i32.const 16)))
        (br $next)))
    (f64.store (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $n1)) (f64x2.extract_lane 1 (local.get $n1))))
    (f64.store offset=8 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $n2)) (f64x2.extract_lane 1 (local.get $n2))))
    (f64.store offset=16 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $c)) (f64x2.extract_lane 1 (local.get $c))))
    (f64.store offset=24 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $m)) (f64x2.extract_lane 1 (local.get $m)))))

  ;; Σ_i |a[i] − b[i]| and Σ_i |b[i]| in float64 in one pass, stored as two f64 at $out (TeaCache's and
  ;; FBCache's relative L1 change ‖a − b‖₁ / ‖b‖₁)
  (func (export "relativeL1Sums") (param $a i32) (param $b i32) (param $n4 i32) (param $out i32)
    (local $xa v128) (local $xb v128) (local $diff v128) (local $ref v128) (local $end i32)
    (local.set $diff (f64x2.splat (f64.const 0)))
    (local.set $ref (f64x2.splat (f64.const 0)))
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $xa (v128.load (local.get $a)))
        (local.set $xb (v128.load (local.get $b)))
        (local.set $diff (f64x2.add (local.get $diff)
          (f64x2.abs (f64x2.sub (f64x2.promote_low_f32x4 (local.get $xa)) (f64x2.promote_low_f32x4 (local.get $xb))))))
        (local.set $ref (f64x2.add (local.get $ref) (f64x2.abs (f64x2.promote_low_f32x4 (local.get $xb)))))
        (local.set $xa (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xa) (local.get $xa)))
        (local.set $xb (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xb) (local.get $xb)))
        (local.set $diff (f64x2.add (local.get $diff)
          (f64x2.abs (f64x2.sub (f64x2.promote_low_f32x4 (local.get $xa)) (f64x2.promote_low_f32x4 (local.get $xb))))))
        (local.set $ref (f64x2.add (local.get $ref) (f64x2.abs (f64x2.promote_low_f32x4 (local.get $xb)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $next)))
    (f64.store (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $diff)) (f64x2.extract_lane 1 (local.get $diff))))
    (f64.store offset=8 (local.get $out) (f64.add (f64x2.extract_lane 0 (local.get $ref)) (f64x2.extract_lane 1 (local.get $ref)))))

  ;; The paper's Padé [2/1] (tcpade-math.ts, padePaperInto), element-wise in float32:
  ;;   out = wb·base + (b0·a + b1·b) / guard(1 + a1·a) + β·(a − b),  guard: |den| ≥ ε keeping its sign (0 → +ε)
  (func (export "padePaper")
    (param $out i32) (param $a i32) (param $b i32) (param $base i32) (param $n4 i32)
    (param $b0 f32) (param $b1 f32) (param $a1 f32) (param $eps f32) (param $beta f32) (param $wb f32)
    (local $va v128) (local $vb v128) (local $den v128) (local $end i32)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $va (v128.load (local.get $a)))
        (local.set $vb (v128.load (local.get $b)))
        (local.set $den (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (f32x4.splat (local.get $a1)) (local.get $va))))
        (local.set $den (v128.bitselect
          (v128.bitselect (f32x4.splat (f32.neg (local.get $eps))) (f32x4.splat (local.get $eps)) (f32x4.lt (local.get $den) (f32x4.splat (f32.const 0))))
          (local.get $den)
          (f32x4.lt (f32x4.abs (local.get $den)) (f32x4.splat (local.get $eps)))))
        (v128.store (local.get $out)
          (f32x4.add
            (f32x4.add
              (f32x4.mul (f32x4.splat (local.get $wb)) (v128.load (local.get $base)))
              (f32x4.div
                (f32x4.add (f32x4.mul (f32x4.splat (local.get $b0)) (local.get $va)) (f32x4.mul (f32x4.splat (local.get $b1)) (local.get $vb)))
                (local.get $den)))
            (f32x4.mul (f32x4.splat (local.get $beta)) (f32x4.sub (local.get $va) (local.get $vb)))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $base (i32.add (local.get $base) (i32.const 16)))
        (br $next))))

  ;; TC-Padé's released-code prediction (tcpade-reference.ts, referencePredictionInto), per element in
  ;; float32 as the released PyTorch code computes it:
  ;;   σ = exp(−λ|a−b| / (|a|+|b|+ε_σ)); den = 1 − k·σ guarded to |den| ≥ ε with its sign;
  ;;   padé = (2σa − σb)/den clamped to avg ± max(dev·|a−b|, ½mag·(|a|+|b|)), avg = w·a + (1−w)·b;
  ;;   p = wσ·clamped + (1−wσ)·avg + β·(a−b), wσ = bw·σ + bb; a non-finite p → a + f·(a−b).
  ;; Returns how many elements took that fallback. exp: range reduction to |r| ≤ ln2/2 and a degree-6
  ;; polynomial (relative error < 2e-7); arguments below −87 give e^−87 (σ ≈ 0 either way).
  ;; Three passes (x into out; σ = e^x in place; the rest), not one: the single loop body (two divisions
  ;; and the exp's chain in sequence, ~150 instructions) was latency-bound, as the CPU could not overlap
  ;; its iterations; the short loops overlap and the whole runs in half the time (docs/findings.md §9).
  (func (export "referencePrediction")
    (param $out i32) (param $a i32) (param $b i32) (param $n4 i32)
    (param $lambda f32) (param $sigmaEps f32) (param $denScale f32) (param $eps f32) (param $avgW f32)
    (param $devF f32) (param $halfMag f32) (param $blendW f32) (param $blendBase f32) (param $beta f32)
    (param $fallback f32) (result i32)
    (local $va v128) (local $vb v128) (local $absA v128) (local $absB v128) (local $diff v128) (local $absDiff v128)
    (local $x v128) (local $n v128) (local $r v128) (local $poly v128) (local $sigma v128) (local $den v128)
    (local $pade v128) (local $avg v128) (local $maxDev v128) (local $lo v128) (local $hi v128) (local $w v128)
    (local $p v128) (local $bad v128) (local $count v128) (local $end i32) (local $o i32) (local $pa i32) (local $pb i32)
    ;; loop invariants, splatted once (V8 does not hoist splats out of wasm loops)
    (local $kNegLambda v128) (local $kSigmaEps v128) (local $kDenScale v128) (local $kEps v128) (local $kNegEps v128)
    (local $kAvgW v128) (local $kAvgW1 v128) (local $kDevF v128) (local $kHalfMag v128) (local $kBlendW v128)
    (local $kBlendBase v128) (local $kBeta v128) (local $kFall1 v128) (local $kFall v128) (local $kOne v128)
    (local.set $kNegLambda (f32x4.splat (f32.neg (local.get $lambda))))
    (local.set $kSigmaEps (f32x4.splat (local.get $sigmaEps)))
    (local.set $kDenScale (f32x4.splat (local.get $denScale)))
    (local.set $kEps (f32x4.splat (local.get $eps)))
    (local.set $kNegEps (f32x4.splat (f32.neg (local.get $eps))))
    (local.set $kAvgW (f32x4.splat (local.get $avgW)))
    (local.set $kAvgW1 (f32x4.splat (f32.sub (f32.const 1) (local.get $avgW))))
    (local.set $kDevF (f32x4.splat (local.get $devF)))
    (local.set $kHalfMag (f32x4.splat (local.get $halfMag)))
    (local.set $kBlendW (f32x4.splat (local.get $blendW)))
    (local.set $kBlendBase (f32x4.splat (local.get $blendBase)))
    (local.set $kBeta (f32x4.splat (local.get $beta)))
    (local.set $kFall1 (f32x4.splat (f32.add (f32.const 1) (local.get $fallback))))
    (local.set $kFall (f32x4.splat (local.get $fallback)))
    (local.set $kOne (f32x4.splat (f32.const 1)))
    (local.set $count (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n4) (i32.const 4))))
    (local.set $o (local.get $out))
    (local.set $pa (local.get $a))
    (local.set $pb (local.get $b))
    (block $done1
      (loop $next1
        (br_if $done1 (i32.ge_u (local.get $o) (local.get $end)))
        (local.set $va (v128.load (local.get $pa)))
        (local.set $vb (v128.load (local.get $pb)))
        (local.set $absDiff (f32x4.abs (f32x4.sub (local.get $va) (local.get $vb))))
        ;; x = −λ|a−b| / (|a|+|b|+ε_σ) ≤ 0, floored at −87 (NaN stays NaN)
        (local.set $x (f32x4.div
          (f32x4.mul (local.get $kNegLambda) (local.get $absDiff))
          (f32x4.add (f32x4.add (f32x4.abs (local.get $va)) (f32x4.abs (local.get $vb))) (local.get $kSigmaEps))))
        (local.set $x (f32x4.pmax (local.get $x) (v128.const f32x4 -87 -87 -87 -87)))
        (v128.store (local.get $o) (local.get $x))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
        (local.set $pb (i32.add (local.get $pb) (i32.const 16)))
        (br $next1)))
    (local.set $o (local.get $out))
    (block $done2
      (loop $next2
        (br_if $done2 (i32.ge_u (local.get $o) (local.get $end)))
        (local.set $x (v128.load (local.get $o)))
        ;; σ = 2^n · e^r, x = n·ln2 + r
        (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
        (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
        (local.set $r (f32x4.add (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 2.12194440e-4 2.12194440e-4 2.12194440e-4 2.12194440e-4))))
        (local.set $poly (f32x4.add (f32x4.mul (v128.const f32x4 0.00138888889 0.00138888889 0.00138888889 0.00138888889) (local.get $r))
          (v128.const f32x4 0.00833333333 0.00833333333 0.00833333333 0.00833333333)))
        (local.set $poly (f32x4.add (f32x4.mul (local.get $poly) (local.get $r)) (v128.const f32x4 0.0416666667 0.0416666667 0.0416666667 0.0416666667)))
        (local.set $poly (f32x4.add (f32x4.mul (local.get $poly) (local.get $r)) (v128.const f32x4 0.166666667 0.166666667 0.166666667 0.166666667)))
        (local.set $poly (f32x4.add (f32x4.mul (local.get $poly) (local.get $r)) (v128.const f32x4 0.5 0.5 0.5 0.5)))
        (local.set $poly (f32x4.add (f32x4.mul (local.get $poly) (local.get $r)) (local.get $kOne)))
        (local.set $poly (f32x4.add (f32x4.mul (local.get $poly) (local.get $r)) (local.get $kOne)))
        ;; 2^n from the exponent bits: n ∈ [−126, 0] is exact in float32 and in range for the conversion
        (local.set $sigma (f32x4.mul (local.get $poly)
          (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
        (v128.store (local.get $o) (local.get $sigma))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $next2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $va (v128.load (local.get $a)))
        (local.set $vb (v128.load (local.get $b)))
        (local.set $sigma (v128.load (local.get $out)))
        (local.set $absA (f32x4.abs (local.get $va)))
        (local.set $absB (f32x4.abs (local.get $vb)))
        (local.set $diff (f32x4.sub (local.get $va) (local.get $vb)))
        (local.set $absDiff (f32x4.abs (local.get $diff)))
        ;; den = 1 − k·σ, |den| ≥ ε keeping its sign (0 → +ε; NaN fails the test and stays)
        (local.set $den (f32x4.sub (local.get $kOne) (f32x4.mul (local.get $kDenScale) (local.get $sigma))))
        (local.set $den (v128.bitselect
          (v128.bitselect (local.get $kNegEps) (local.get $kEps) (f32x4.lt (local.get $den) (v128.const f32x4 0 0 0 0)))
          (local.get $den)
          (f32x4.lt (f32x4.abs (local.get $den)) (local.get $kEps))))
        (local.set $pade (f32x4.div
          (f32x4.sub (f32x4.mul (v128.const f32x4 2 2 2 2) (f32x4.mul (local.get $sigma) (local.get $va))) (f32x4.mul (local.get $sigma) (local.get $vb)))
          (local.get $den)))
        (local.set $avg (f32x4.add
          (f32x4.mul (local.get $kAvgW) (local.get $va))
          (f32x4.mul (local.get $kAvgW1) (local.get $vb))))
        (local.set $maxDev (f32x4.pmax
          (f32x4.mul (local.get $kDevF) (local.get $absDiff))
          (f32x4.mul (local.get $kHalfMag) (f32x4.add (local.get $absA) (local.get $absB)))))
        (local.set $lo (f32x4.sub (local.get $avg) (local.get $maxDev)))
        (local.set $hi (f32x4.add (local.get $avg) (local.get $maxDev)))
        ;; clamp with comparisons, so a NaN padé stays NaN (as the JS: pade < lo ? lo : pade > hi ? hi : pade)
        (local.set $pade (v128.bitselect (local.get $lo) (local.get $pade) (f32x4.lt (local.get $pade) (local.get $lo))))
        (local.set $pade (v128.bitselect (local.get $hi) (local.get $pade) (f32x4.gt (local.get $pade) (local.get $hi))))
        (local.set $w (f32x4.add (f32x4.mul (local.get $kBlendW) (local.get $sigma)) (local.get $kBlendBase)))
        (local.set $p (f32x4.add
          (f32x4.add (f32x4.mul (local.get $w) (local.get $pade)) (f32x4.mul (f32x4.sub (local.get $kOne) (local.get $w)) (local.get $avg)))
          (f32x4.mul (local.get $kBeta) (local.get $diff))))
        ;; non-finite (NaN, ±Inf) → a + f·(a − b), as (1 + f)·a − f·b so that a − b cannot overflow
        (local.set $bad (f32x4.ne (f32x4.sub (local.get $p) (local.get $p)) (v128.const f32x4 0 0 0 0)))
        (if (v128.any_true (local.get $bad))
          (then
            (local.set $p (v128.bitselect
              (f32x4.sub
                (f32x4.mul (local.get $kFall1) (local.get $va))
                (f32x4.mul (local.get $kFall) (local.get $vb)))
              (local.get $p)
              (local.get $bad)))
            (local.set $count (i32x4.sub (local.get $count) (local.get $bad)))))
        (v128.store (local.get $out) (local.get $p))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $next)))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $count)) (i32x4.extract_lane 1 (local.get $count)))
      (i32.add (i32x4.extract_lane 2 (local.get $count)) (i32x4.extract_lane 3 (local.get $count)))))

  ;; 1 if every element is finite, else 0 (x − x is 0 for finite x, NaN for NaN and ±Inf).
  (func (export "allFinite") (param $a i32) (param $n4 i32) (result i32)
    (local $bad v128) (local $x v128) (local $end i32)
    (local.set $bad (v128.const i32x4 0 0 0 0))
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $x (v128.load (local.get $a)))
        (local.set $bad (v128.or (local.get $bad) (f32x4.ne (f32x4.sub (local.get $x) (local.get $x)) (f32x4.splat (f32.const 0)))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (br $next)))
    (i32.eqz (v128.any_true (local.get $bad))))
)
