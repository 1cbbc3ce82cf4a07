;; hello: a WASI preview1 command module. Prints one line to stdout and exits 0.
;; Compiled at test setup with Debian's wat2wasm (wabt); see ../runnable-images.ts.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0: iovec {buf, len}; 8: nwritten; 64: the line
  (data (i32.const 64) "hello from wasm: a WASI preview1 module\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 40))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
