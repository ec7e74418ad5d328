;; traps-on-malformed-payload (ERR-001) -- parses the payload of `generic` event data as JSON
;; and executes `unreachable` when it is not a JSON object (an unwrap of the parse error), e.g.
;; a `custom` event with generic("not json"), instead of answering a typed error.  Otherwise the
;; baseline's answers (one derived event per supported, well-formed event).

(func $member.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (local $i i32) (local $ev i32) (local $check i32)
  (if (call $not-initialized) (then (return (call $err-not-initialized))))
  (call $out-begin (local.get $len))
  (block $done
    (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $ev (call $event-at (local.get $ptr) (local.get $i)))
      (local.set $check (call $check-event (local.get $ev)))
      (if (i32.eq (local.get $check) (i32.const 2))
        (then (return (call $err-malformed))))
      (if (i32.eqz (local.get $check))
        (then
          ;; event-data case 4: generic(string) at offset 40
          (if (i32.eq (i32.load8_u offset=32 (local.get $ev)) (i32.const 4))
            (then
              (if (i32.eqz (call $json-object?
                    (i32.load offset=40 (local.get $ev)) (i32.load offset=44 (local.get $ev))))
                (then unreachable))))
          (drop (call $out-push-derived (local.get $ev)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
  (call $ret-out))

;; process-event(e) is process-batch([e]): the event record is a one-element list in place
(func $member.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $ev i32) (result i32)
  (call $member.process-batch (local.get $ev) (i32.const 1)))
