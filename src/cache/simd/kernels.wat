;; SIMD kernels for the cache math (element-wise passes over one sample's [T*D] float32 vectors).
;; Source of truth for kernels-wasm.ts: `npm run build:wasm` assembles this file with wabt and writes
;; the module there as base64; test/cache/simd.test.ts fails if the two drift apart.
;;
;; Conventions: every pointer is a byte offset into memory, 16-byte aligned; n4 is the number of
;; f32x4 lanes groups (element count rounded up to a multiple of 4; the caller zero-pads the tail).
(module
  (memory (export "memory") 1)

  ;; dst[i] = w * src[i]
  (func (export "scale") (param $dst i32) (param $src i32) (param $w f32) (param $n4 i32)
    (local $wv v128) (local $end i32)
    (local.set $wv (f32x4.splat (local.get $w)))
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.mul (local.get $wv) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $next))))

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

  ;; One level of a divided-difference update: old = prev[i]; prev[i] = cur[i]; cur[i] = (cur[i] − old)·inv
  (func (export "ddLevel") (param $cur i32) (param $prev i32) (param $inv f32) (param $n4 i32)
    (local $iv v128) (local $c v128) (local $end i32)
    (local.set $iv (f32x4.splat (local.get $inv)))
    (local.set $end (i32.add (local.get $cur) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $cur) (local.get $end)))
        (local.set $c (v128.load (local.get $cur)))
        (v128.store (local.get $cur) (f32x4.mul (f32x4.sub (local.get $c) (v128.load (local.get $prev))) (local.get $iv)))
        (v128.store (local.get $prev) (local.get $c))
        (local.set $cur (i32.add (local.get $cur) (i32.const 16)))
        (local.set $prev (i32.add (local.get $prev) (i32.const 16)))
        (br $next))))

  ;; dst[i] = a[i] - b[i]
  (func (export "sub") (param $dst i32) (param $a i32) (param $b i32) (param $n4 i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.sub (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $next))))

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

  ;; Σ_i |p·a[i] + q·b[i]| in float64 (TeaCache's and FBCache's relative L1 change: (1, −1), then (0, 1))
  (func (export "sumAbs2")
    (param $a i32) (param $b i32) (param $p f64) (param $q f64) (param $n4 i32) (result f64)
    (local $vp v128) (local $vq v128) (local $xa v128) (local $xb v128) (local $acc v128) (local $end i32)
    (local.set $vp (f64x2.splat (local.get $p)))
    (local.set $vq (f64x2.splat (local.get $q)))
    (local.set $acc (f64x2.splat (f64.const 0)))
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n4) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $xa (v128.load (local.get $a)))
        (local.set $xb (v128.load (local.get $b)))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.abs (f64x2.add
          (f64x2.mul (local.get $vp) (f64x2.promote_low_f32x4 (local.get $xa)))
          (f64x2.mul (local.get $vq) (f64x2.promote_low_f32x4 (local.get $xb)))))))
        (local.set $xa (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xa) (local.get $xa)))
        (local.set $xb (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $xb) (local.get $xb)))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.abs (f64x2.add
          (f64x2.mul (local.get $vp) (f64x2.promote_low_f32x4 (local.get $xa)))
          (f64x2.mul (local.get $vq) (f64x2.promote_low_f32x4 (local.get $xb)))))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (br $next)))
    (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))

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
