;; ticker: a long-running WASI preview1 command module for Deployments. Prints a start line, then
;; forever: sleeps about one second (poll_oneoff on a relative monotonic-clock subscription) and
;; prints "tick N". Compiled at test setup with Debian's wat2wasm (wabt); see ../runnable-images.ts.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0: iovec {buf, len}; 8: nwritten; 16: nevents; 64: subscription (48 bytes); 128: event (32 bytes)
  ;; 256: start line; 512: "tick " followed by the decimal counter and "\n"
  (data (i32.const 256) "ticker started: one tick per second\n")
  (data (i32.const 512) "tick ")

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Writes n in decimal and "\n" after "tick " at 512; returns the line's length.
  (func $format (param $n i32) (result i32)
    (local $digits i32) (local $t i32) (local $p i32)
    (local.set $digits (i32.const 1))
    (local.set $t (local.get $n))
    (block $counted
      (loop $count
        (br_if $counted (i32.lt_u (local.get $t) (i32.const 10)))
        (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (br $count)))
    (local.set $p (i32.add (i32.const 517) (local.get $digits)))
    (i32.store8 (local.get $p) (i32.const 10))
    (local.set $t (local.get $n))
    (loop $emit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $t) (i32.const 10))))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $emit (i32.gt_u (local.get $p) (i32.const 517))))
    (i32.add (i32.const 6) (local.get $digits)))

  ;; subscription: userdata u64 @0, tag u8 @8 (0 = clock), clock id u32 @16 (1 = monotonic),
  ;; timeout u64 @24 (ns), precision u64 @32, flags u16 @40 (0 = relative timeout)
  (func $sleep_one_second
    (i64.store (i32.const 64) (i64.const 0))
    (i32.store8 (i32.const 72) (i32.const 0))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (i64.const 1000000000))
    (i64.store (i32.const 96) (i64.const 0))
    (i32.store16 (i32.const 104) (i32.const 0))
    (drop (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 16))))

  (func (export "_start")
    (local $n i32)
    (call $write (i32.const 256) (i32.const 36))
    (loop $forever
      (call $sleep_one_second)
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (call $write (i32.const 512) (call $format (local.get $n)))
      (br $forever))))
