;; memory-bomb (LIM-003) -- for every supported event it grows linear memory one page at a time
;; until memory.grow is refused (at the host's max_memory_pages), then answers
;; err(resource-exhausted).  health-check reports how far it got: details
;; [("memory-pages", <memory.size as 5 digits>)].
;; health-status in result<health-status, processor-error> (size 40, align 8): 0 discriminant,
;; 8 status (u8), 12 message option<string>, 24 details (ptr, len), 32 timestamp u64;
;; a details element tuple<string, string> is 16 bytes (key ptr, len, value ptr, len).

(data (i32.const 512) "memory-pages")
(global $DETAILS i32 (i32.const 2320))

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (i32.add (local.get $ptr) (i32.mul (local.get $i) (global.get $EVENT_SIZE))))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2)) (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          (loop $grow
            (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
          ;; processor-error case 3: resource-exhausted (no payload)
          (return (call $ret-err (i32.const 3) (i32.const 0) (i32.const 0)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))

(func $member.health-check (export "obsrvr:flowctl/processor@1.0.0#health-check") (result i32)
  (drop (call $healthy))
  (call $write-u32 (i32.const 528) (memory.size) (i32.const 5))
  (i32.store offset=0 (global.get $DETAILS) (i32.const 512))
  (i32.store offset=4 (global.get $DETAILS) (i32.const 12))
  (i32.store offset=8 (global.get $DETAILS) (i32.const 528))
  (i32.store offset=12 (global.get $DETAILS) (i32.const 5))
  (i32.store offset=24 (global.get $RET) (global.get $DETAILS))
  (i32.store offset=28 (global.get $RET) (i32.const 1))
  (global.get $RET))
