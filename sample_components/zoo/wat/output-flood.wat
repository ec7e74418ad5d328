;; output-flood (OUT-004) -- emits 100,001 events for every supported input: one more than the
;; reference host's default max_output_events (100,000).  Each is derived from the input (type
;; custom, generic data, the input's timestamp) with the id "<input id>.<6-digit index>", so ids
;; stay unique and process-batch is the concatenation of process-event.  It needs about
;; 16.6 MiB + 100,001 x (len(id) + 7) bytes per input: when memory cannot grow that far it
;; answers err(resource-exhausted).

(global $FLOOD i32 (i32.const 100001))

;; bump allocation (8-aligned) like cabi_realloc, but 0 instead of a trap when memory cannot grow
(func $try-alloc (param $size i64) (result i32)
  (local $ptr i64) (local $end i64) (local $pages i64)
  (local.set $ptr (i64.and (i64.add (i64.extend_i32_u (global.get $heap)) (i64.const 7))
                           (i64.const -8)))
  (local.set $end (i64.add (local.get $ptr) (local.get $size)))
  (if (i64.gt_u (local.get $end) (i64.const 0xffff_0000)) (then (return (i32.const 0))))
  (local.set $pages (i64.shr_u (i64.add (local.get $end) (i64.const 0xffff)) (i64.const 16)))
  (if (i64.gt_u (local.get $pages) (i64.extend_i32_u (memory.size)))
    (then
      (if (i32.eq
            (memory.grow (i32.wrap_i64 (i64.sub (local.get $pages) (i64.extend_i32_u (memory.size)))))
            (i32.const -1))
        (then (return (i32.const 0))))))
  (global.set $heap (i32.wrap_i64 (local.get $end)))
  (i32.wrap_i64 (local.get $ptr)))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32) (local $k i32) (local $slot i32)
  (local $count i64) (local $id-bytes i64) (local $ids i32) (local $id-len i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  ;; pass 1: check every event; count the outputs and the bytes of their ids
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (i32.add (local.get $ptr) (i32.mul (local.get $i) (global.get $EVENT_SIZE))))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          (local.set $count (i64.add (local.get $count) (i64.extend_i32_u (global.get $FLOOD))))
          (local.set $id-bytes
            (i64.add (local.get $id-bytes)
              (i64.mul (i64.extend_i32_u (global.get $FLOOD))
                       (i64.add (i64.load32_u offset=4 (local.get $ev)) (i64.const 7)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (global.set $out-len (i32.const 0))
  (global.set $out-ptr (call $try-alloc (i64.mul (local.get $count) (i64.const 160))))
  (local.set $ids (call $try-alloc (local.get $id-bytes)))
  (if (i32.or (i32.eqz (global.get $out-ptr)) (i32.eqz (local.get $ids)))
    ;; processor-error case 3: resource-exhausted (no payload)
    (then (return (call $ret-err (i32.const 3) (i32.const 0) (i32.const 0)))))
  ;; pass 2: the outputs
  (local.set $i (i32.const 0))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (i32.add (local.get $ptr) (i32.mul (local.get $i) (global.get $EVENT_SIZE))))
      (if (i32.eqz (call $check-event (local.get $ev)))
        (then
          (local.set $id-len (i32.load offset=4 (local.get $ev)))
          (local.set $k (i32.const 0))
          (loop $flood
            (local.set $slot (call $out-push-derived (local.get $ev)))
            ;; id: "<input id>.<k as 6 digits>"
            (memory.copy (local.get $ids) (i32.load offset=0 (local.get $ev)) (local.get $id-len))
            (i32.store8 (i32.add (local.get $ids) (local.get $id-len)) (i32.const 0x2e))
            (call $write-u32
              (i32.add (i32.add (local.get $ids) (local.get $id-len)) (i32.const 1))
              (local.get $k) (i32.const 6))
            (i32.store offset=0 (local.get $slot) (local.get $ids))
            (i32.store offset=4 (local.get $slot) (i32.add (local.get $id-len) (i32.const 7)))
            (local.set $ids (i32.add (local.get $ids) (i32.add (local.get $id-len) (i32.const 7))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $flood (i32.lt_u (local.get $k) (global.get $FLOOD))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
