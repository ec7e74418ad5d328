;; traps-on-oom (LIM-003) -- a stellar-transaction event with 3 or more operations makes it
;; "allocate" a 300-page (18.75 MiB) working buffer: memory.grow by 300 pages, and when
;; memory.grow answers -1 it executes `unreachable` -- what Rust's default allocator does on
;; out-of-memory (handle_alloc_error aborts) -- instead of answering err(resource-exhausted).
;; The buffer is kept for the instance's lifetime (later big transactions reuse it), so with room
;; for 300 more pages (e.g. max_memory_pages 1024) every event is answered as by the baseline;
;; under the default 256 pages every such transaction traps.  Events with fewer operations,
;; other event data and unsupported types never touch it: the baseline's answers.

(global $work-buffer (mut i32) (i32.const 0))  ;; first page of the buffer; 0 until allocated

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32) (local $old i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          ;; event-data case 0: stellar-transaction; operations (ptr, len) at event offset 112
          (if (i32.and
                (i32.eqz (i32.load8_u offset=32 (local.get $ev)))
                (i32.ge_u (i32.load offset=116 (local.get $ev)) (i32.const 3)))
            (then
              (if (i32.eqz (global.get $work-buffer))
                (then
                  (local.set $old (memory.grow (i32.const 300)))
                  ;; out of memory: abort, as a Rust allocator does
                  (if (i32.eq (local.get $old) (i32.const -1)) (then unreachable))
                  (global.set $work-buffer (local.get $old))))))
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
