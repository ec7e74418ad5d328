;; _runtime.wat -- shared runtime fragment of every hand-written test guest.
;;
;; Not a module on its own: tests/guests/build.py splices the top-level forms of the fragments
;; listed for a guest into one `(module ...)`, imports first; a form exporting a name that a later
;; fragment also exports is dropped (that is how a guest overrides a default).
;;
;; Linear memory map (page 0, 64 KiB):
;;      0 ..   63   never used (a null pointer stays invalid)
;;     64 ..  511   static data of the shared fragments (_processor.wat)
;;    512 .. 1023   static data of the guest fragments
;;   1024 .. 1087   $RET: the result area returned by exports (16-byte aligned, 64 bytes)
;;   1536 .. 2047   $SCRATCH: retptr area for imports whose result is not returned as is
;;   2048 .. 2303   $INFO: the processor-info record built by get-info
;;   4096 ..        heap of the bump allocator `cabi_realloc` (grows memory on demand)
;;
;; The heap is reset to its base by the `cabi_post_*` functions (wasmtime calls the post-return
;; function of an export after it has lifted the results), so a guest called millions of times
;; does not grow without bound.

(memory (export "memory") 1)

(global $HEAP_BASE i32 (i32.const 4096))
(global $heap (mut i32) (i32.const 4096))
(global $RET i32 (i32.const 1024))
(global $SCRATCH i32 (i32.const 1536))
(global $INFO i32 (i32.const 2048))

;; cabi_realloc(old_ptr, old_size, align, new_size) -> ptr
;; Bump allocator: honours `align` (a power of two), grows memory when the block does not fit
;; (trapping if memory cannot grow), and copies the old block on a real re-allocation.
(func $cabi_realloc (export "cabi_realloc")
  (param $old i32) (param $old_size i32) (param $align i32) (param $new_size i32) (result i32)
  (local $ptr i64) (local $end i64) (local $pages i64)
  (if (i32.eqz (local.get $align)) (then (local.set $align (i32.const 1))))
  ;; ptr = (heap + align - 1) & -align, end = ptr + new_size, computed in 64 bits (no wrap-around)
  (local.set $ptr
    (i64.and
      (i64.add (i64.extend_i32_u (global.get $heap))
               (i64.extend_i32_u (i32.sub (local.get $align) (i32.const 1))))
      (i64.sub (i64.const 0) (i64.extend_i32_u (local.get $align)))))
  (local.set $end (i64.add (local.get $ptr) (i64.extend_i32_u (local.get $new_size))))
  (if (i64.gt_u (local.get $end) (i64.const 0x1_0000_0000)) (then unreachable))
  ;; pages needed = ceil(end / 64 KiB)
  (local.set $pages (i64.shr_u (i64.add (local.get $end) (i64.const 0xffff)) (i64.const 16)))
  (if (i64.gt_u (local.get $pages) (i64.extend_i32_u (memory.size)))
    (then
      (if (i32.eq
            (memory.grow (i32.wrap_i64 (i64.sub (local.get $pages) (i64.extend_i32_u (memory.size)))))
            (i32.const -1))
        (then unreachable))))
  (global.set $heap (i32.wrap_i64 (local.get $end)))
  (if (i32.and (i32.ne (local.get $old) (i32.const 0)) (i32.ne (local.get $old_size) (i32.const 0)))
    (then
      (memory.copy
        (i32.wrap_i64 (local.get $ptr))
        (local.get $old)
        (select (local.get $old_size) (local.get $new_size)
                (i32.lt_u (local.get $old_size) (local.get $new_size))))))
  (i32.wrap_i64 (local.get $ptr)))

;; Forget every heap allocation (called from the post-return functions).
(func $heap-reset
  (global.set $heap (global.get $HEAP_BASE)))

;; Write a (ptr, len) pair into $RET and return $RET: the result of an export returning a list.
(func $ret-list (param $ptr i32) (param $len i32) (result i32)
  (i32.store offset=0 (global.get $RET) (local.get $ptr))
  (i32.store offset=4 (global.get $RET) (local.get $len))
  (global.get $RET))
